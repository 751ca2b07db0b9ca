using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Trading.Backend.Tests.Common;
using Trading.Backend.Trading;
using Trading.V1;

namespace Trading.Backend.Tests.Trading;

public sealed class OrderBookTests : IDisposable
{
    private readonly BackendParts _parts = new();

    public void Dispose() => _parts.Dispose();

    private void SetPrice(string symbol, double price) => _parts.Quotes.Publish(symbol, price, Timestamp.FromDateTimeOffset(_parts.Clock.Now));

    [Fact]
    public async Task LimitBuy_RestsUntilAskReachesLimit_ThenFillsAtTheAsk()
    {
        SetPrice("ACME", 200);
        var order = await _parts.Orders.PlaceAsync(new PlaceOrderRequest
        {
            AccountId = "acc-alice", Symbol = "ACME", Side = OrderSide.Buy, Quantity = 10, Type = OrderType.Limit, LimitPrice = 150,
        }, CancellationToken.None);
        Assert.Equal(OrderStatus.Accepted, order.Status);

        await _parts.Orders.FillRestingOrdersAsync(CancellationToken.None);
        Assert.Equal(OrderStatus.Accepted, _parts.Orders.GetOrder("acc-alice", order.OrderId).Status);

        SetPrice("ACME", 149);
        _parts.Quotes.TryGet("ACME", out var quote);
        await _parts.Orders.FillRestingOrdersAsync(CancellationToken.None);

        var filled = _parts.Orders.GetOrder("acc-alice", order.OrderId);
        Assert.Equal(OrderStatus.Filled, filled.Status);
        Assert.Equal(quote.Ask, filled.AverageFillPrice);
        var updates = await _parts.Feed.ReadAsync(OrderBook.StreamOf("acc-alice"), 0, 100, CancellationToken.None);
        Assert.Equal([OrderStatus.Accepted, OrderStatus.Filled], updates.Select(u => Order.Parser.ParseFrom(u.Payload.Span)).Where(o => o.OrderId == order.OrderId).Select(o => o.Status));
    }

    [Fact]
    public async Task RestingBuy_NoLongerAffordableWhenItFills_RejectedWithReason()
    {
        SetPrice("STRK", 1000);
        var order = await _parts.Orders.PlaceAsync(new PlaceOrderRequest
        {
            AccountId = "acc-bob", Symbol = "STRK", Side = OrderSide.Buy, Quantity = 60, Type = OrderType.Limit, LimitPrice = 800,
        }, CancellationToken.None);
        // Spend most of the cash meanwhile.
        await _parts.Orders.PlaceAsync(new PlaceOrderRequest { AccountId = "acc-bob", Symbol = "STRK", Side = OrderSide.Buy, Quantity = 40 }, CancellationToken.None);

        SetPrice("STRK", 700);
        await _parts.Orders.FillRestingOrdersAsync(CancellationToken.None);

        var rejected = _parts.Orders.GetOrder("acc-bob", order.OrderId);
        Assert.Equal(OrderStatus.Rejected, rejected.Status);
        Assert.Contains("Insufficient cash", rejected.RejectReason);
    }

    [Fact]
    public async Task Sell_MoreThanHeld_FailedPreconditionAndNothingWritten()
    {
        var before = await _parts.Feed.ReadAsync(OrderBook.StreamOf("acc-alice"), 0, 100, CancellationToken.None);

        var error = await Assert.ThrowsAsync<RpcException>(() => _parts.Orders.PlaceAsync(new PlaceOrderRequest
        {
            AccountId = "acc-alice", Symbol = "ACME", Side = OrderSide.Sell, Quantity = 51,
        }, CancellationToken.None));

        Assert.Equal(StatusCode.FailedPrecondition, error.StatusCode);
        Assert.Equal(before.Count, (await _parts.Feed.ReadAsync(OrderBook.StreamOf("acc-alice"), 0, 100, CancellationToken.None)).Count);
    }

    [Fact]
    public async Task Sell_PartOfPosition_KeepsAveragePriceOfTheRest()
    {
        SetPrice("ACME", 250);

        await _parts.Orders.PlaceAsync(new PlaceOrderRequest { AccountId = "acc-alice", Symbol = "ACME", Side = OrderSide.Sell, Quantity = 20 }, CancellationToken.None);

        var position = _parts.Orders.GetPortfolio("acc-alice").Positions.Single(p => p.Symbol == "ACME");
        Assert.Equal(30, position.Quantity);
        Assert.Equal(180, position.AveragePrice);
    }
}
