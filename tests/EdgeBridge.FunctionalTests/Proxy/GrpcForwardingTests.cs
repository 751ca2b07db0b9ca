using Chat.V1;
using EdgeBridge.FunctionalTests.Common;
using Grpc.Core;
using Trading.V1;

namespace EdgeBridge.FunctionalTests.Proxy;

/// <summary>Internal services call every method through the edge's h2c port.</summary>
public sealed class GrpcForwardingTests(StackFixture stack) : IClassFixture<StackFixture>
{
    [Fact]
    public async Task UnaryCalls_ThroughEdge_LoginReadAndTrade()
    {
        var auth = new AuthService.AuthServiceClient(stack.Grpc);
        var login = await auth.LoginAsync(new LoginRequest { Username = "alice", Password = "wonderland" });
        var session = new Session(login.AccessToken, login.AccountId);
        var trading = new TradingService.TradingServiceClient(stack.Grpc);

        var quote = await new MarketDataService.MarketDataServiceClient(stack.Grpc).GetQuoteAsync(new GetQuoteRequest { Symbol = "HOOL" });
        var order = await trading.PlaceOrderAsync(new PlaceOrderRequest
        {
            AccountId = login.AccountId, Symbol = "HOOL", Side = OrderSide.Buy, Quantity = 1,
        }, session.Headers);
        var portfolio = await trading.GetPortfolioAsync(new GetPortfolioRequest { AccountId = login.AccountId }, session.Headers);

        Assert.Equal("HOOL", quote.Quote.Symbol);
        Assert.Equal(OrderStatus.Filled, order.Order.Status);
        Assert.Contains(portfolio.Portfolio.Positions, p => p.Symbol == "HOOL");
    }

    [Fact]
    public async Task UnaryCall_AnotherAccount_PermissionDeniedStatus()
    {
        var session = await stack.LoginAsync();
        var trading = new TradingService.TradingServiceClient(stack.Grpc);

        var error = await Assert.ThrowsAsync<RpcException>(async () =>
            await trading.GetPortfolioAsync(new GetPortfolioRequest { AccountId = "acc-bob" }, session.Headers));

        Assert.Equal(StatusCode.PermissionDenied, error.StatusCode);
    }

    [Fact]
    public async Task UnaryCall_NoToken_UnauthenticatedStatus()
    {
        var trading = new TradingService.TradingServiceClient(stack.Grpc);

        var error = await Assert.ThrowsAsync<RpcException>(async () =>
            await trading.GetPortfolioAsync(new GetPortfolioRequest { AccountId = "acc-alice" }));

        Assert.Equal(StatusCode.Unauthenticated, error.StatusCode);
    }

    [Fact]
    public async Task ServerStream_ThroughEdge_DeliversMessagesPostedAfterAnIdlePause()
    {
        var session = await stack.LoginAsync();
        var chat = new ChatService.ChatServiceClient(stack.Grpc);
        var room = "grpc-" + Guid.NewGuid().ToString("N")[..8];
        using var cts = new CancellationTokenSource(Wait.Deadline);
        using var stream = chat.StreamRoom(new StreamRoomRequest { Room = room }, cancellationToken: cts.Token);
        var first = stream.ResponseStream.MoveNext(cts.Token);

        // Nothing flows for a while; then a message must still arrive on the same stream.
        await Task.WhenAny(first, Task.Delay(TimeSpan.FromSeconds(3), cts.Token));
        Assert.False(first.IsCompleted);
        await chat.PostMessageAsync(new PostMessageRequest { Room = room, Text = "still there?" }, session.Headers);

        Assert.True(await first);
        Assert.Equal("still there?", stream.ResponseStream.Current.Message.Text);
        Assert.Equal(1, stream.ResponseStream.Current.Message.Sequence);
    }

    [Fact]
    public async Task UnknownMethod_ThroughEdge_UnimplementedStatus()
    {
        var invoker = stack.Grpc.CreateCallInvoker();
        var method = new Method<GetQuoteRequest, GetQuoteResponse>(MethodType.Unary, "trading.v1.NoSuchService", "Nope",
            Marshallers.Create(r => Google.Protobuf.MessageExtensions.ToByteArray(r), GetQuoteRequest.Parser.ParseFrom),
            Marshallers.Create(r => Google.Protobuf.MessageExtensions.ToByteArray(r), GetQuoteResponse.Parser.ParseFrom));

        var error = await Assert.ThrowsAsync<RpcException>(async () =>
            await invoker.AsyncUnaryCall(method, null, new CallOptions(), new GetQuoteRequest()));

        Assert.Equal(StatusCode.Unimplemented, error.StatusCode);
    }

    [Fact]
    public async Task ServerReflection_ThroughEdge_ListsEveryContractService()
    {
        var reflection = new Grpc.Reflection.V1Alpha.ServerReflection.ServerReflectionClient(stack.Grpc);
        using var call = reflection.ServerReflectionInfo();

        await call.RequestStream.WriteAsync(new Grpc.Reflection.V1Alpha.ServerReflectionRequest { ListServices = "" });
        await call.RequestStream.CompleteAsync();
        Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None));

        var services = call.ResponseStream.Current.ListServicesResponse.Service.Select(s => s.Name).ToList();
        Assert.Contains("trading.v1.AuthService", services);
        Assert.Contains("trading.v1.MarketDataService", services);
        Assert.Contains("trading.v1.TradingService", services);
        Assert.Contains("chat.v1.ChatService", services);
        Assert.Contains("grpc.health.v1.Health", services);
    }

    [Fact]
    public async Task StreamQuotes_ThroughEdge_SnapshotThenLiveTicks()
    {
        var client = new MarketDataService.MarketDataServiceClient(stack.Grpc);
        using var cts = new CancellationTokenSource(Wait.Deadline);
        using var call = client.StreamQuotes(new StreamQuotesRequest { Symbols = { "ACME", "HOOL" } }, cancellationToken: cts.Token);

        var seen = new Dictionary<string, List<long>>();
        while (seen.Values.Sum(v => v.Count) < 6 && await call.ResponseStream.MoveNext(cts.Token))
        {
            var quote = call.ResponseStream.Current.Quote;
            (seen.TryGetValue(quote.Symbol, out var list) ? list : seen[quote.Symbol] = []).Add(quote.Sequence);
        }

        Assert.Equal(["ACME", "HOOL"], seen.Keys.Order());
        // The simulator keeps moving prices: sequences only grow.
        Assert.All(seen.Values, sequences => Assert.Equal(sequences.Order(), sequences));
        Assert.Contains(seen.Values, sequences => sequences.Count > 1);
    }

    [Fact]
    public void GrpcCluster_ActivityTimeout_IsLongEnoughForIdleStreams()
    {
        var lookup = stack.Edge.Services.GetRequiredService<Yarp.ReverseProxy.IProxyStateLookup>();

        Assert.True(lookup.TryGetCluster("backend-grpc", out var cluster));
        Assert.True(cluster.Model.Config.HttpRequest!.ActivityTimeout >= TimeSpan.FromHours(1));
    }
}
