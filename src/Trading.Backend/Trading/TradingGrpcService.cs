using Grpc.Core;
using Trading.Backend.Feed;
using Trading.Backend.Hosting;
using Trading.Backend.Identity;
using Trading.V1;

namespace Trading.Backend.Trading;

internal sealed class TradingGrpcService(OrderBook orders, IEventFeed feed, TokenService tokens, StreamLifetime lifetime) : TradingService.TradingServiceBase
{
    public override async Task<GetPortfolioResponse> GetPortfolio(GetPortfolioRequest request, ServerCallContext context)
    {
        await AuthorizeAsync(context, request.AccountId);
        return new GetPortfolioResponse { Portfolio = orders.GetPortfolio(request.AccountId) };
    }

    public override async Task<PlaceOrderResponse> PlaceOrder(PlaceOrderRequest request, ServerCallContext context)
    {
        await AuthorizeAsync(context, request.AccountId);
        return new PlaceOrderResponse { Order = await orders.PlaceAsync(request, context.CancellationToken) };
    }

    public override async Task<GetOrderResponse> GetOrder(GetOrderRequest request, ServerCallContext context)
    {
        await AuthorizeAsync(context, request.AccountId);
        return new GetOrderResponse { Order = orders.GetOrder(request.AccountId, request.OrderId) };
    }

    public override async Task<CancelOrderResponse> CancelOrder(CancelOrderRequest request, ServerCallContext context)
    {
        await AuthorizeAsync(context, request.AccountId);
        return new CancelOrderResponse { Order = await orders.CancelAsync(request.AccountId, request.OrderId, context.CancellationToken) };
    }

    public override async Task StreamOrderUpdates(StreamOrderUpdatesRequest request, IServerStreamWriter<StreamOrderUpdatesResponse> responseStream, ServerCallContext context)
    {
        await AuthorizeAsync(context, request.AccountId);
        if (request.AfterSequence < 0)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, "after_sequence must not be negative."));
        }

        await lifetime.RunAsync(context, async cancellationToken =>
        {
            await foreach (var item in feed.FollowAsync(OrderBook.StreamOf(request.AccountId), request.AfterSequence, cancellationToken))
            {
                var update = new OrderUpdate { Sequence = item.Sequence, Order = Order.Parser.ParseFrom(item.Payload.Span) };
                await responseStream.WriteAsync(new StreamOrderUpdatesResponse { Update = update }, cancellationToken);
            }
        });
    }

    private async Task AuthorizeAsync(ServerCallContext context, string accountId)
    {
        var caller = await tokens.AuthenticateAsync(context);
        TokenService.RequireAccount(caller, accountId);
    }
}
