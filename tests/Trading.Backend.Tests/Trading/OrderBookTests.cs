using EdgeBridge.Testing;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Trading.Backend.Tests.Common;
using Trading.Backend.Trading;
using Trading.V1;

namespace Trading.Backend.Tests.Trading;

/// <summary>Orders, cash and positions, on each store.</summary>
public abstract class OrderBookTests : IAsyncLifetime
{
    private BackendParts _parts = null!;

    private protected abstract Task<BackendParts> CreatePartsAsync();

    public async Task InitializeAsync() => _parts = await CreatePartsAsync();

    public async Task DisposeAsync() => await _parts.DisposeAsync();

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

public sealed class SqliteOrderBookTests : OrderBookTests
{
    private protected override Task<BackendParts> CreatePartsAsync() => Task.FromResult(new BackendParts());
}

[Collection(PostgresGroup.Name)]
public sealed class PostgresOrderBookTests(PostgresServer postgres) : OrderBookTests
{
    private protected override async Task<BackendParts> CreatePartsAsync() => await BackendParts.PostgresAsync(await postgres.CreateDatabaseAsync());

    [Fact]
    public async Task TwoReplicasBuyingForOneAccountAtOnce_NeverSpendMoreThanItsCash_EveryUpdateOnceInOrder()
    {
        var database = await postgres.CreateDatabaseAsync();
        await using var a = await BackendParts.PostgresAsync(database);
        await using var b = await BackendParts.PostgresAsync(database);
        foreach (var replica in new[] { a, b })
        {
            replica.Quotes.Publish("HOOL", 1000, Timestamp.FromDateTimeOffset(replica.Clock.Now));
        }

        // Bob has 50,000 in cash; each buy costs about 10,000: 40 concurrent buys from two replicas, at most 4 fill.
        var attempts = Enumerable.Range(0, 40).Select(i => Task.Run(async () =>
        {
            try
            {
                await (i % 2 == 0 ? a : b).Orders.PlaceAsync(
                    new PlaceOrderRequest { AccountId = "acc-bob", Symbol = "HOOL", Side = OrderSide.Buy, Quantity = 10, ClientOrderId = $"c{i}" },
                    CancellationToken.None);
                return StatusCode.OK;
            }
            catch (RpcException ex)
            {
                return ex.StatusCode;
            }
        })).ToList();
        var results = await Task.WhenAll(attempts);

        Assert.Equal(4, results.Count(r => r == StatusCode.OK));
        Assert.All(results, r => Assert.Contains(r, new[] { StatusCode.OK, StatusCode.FailedPrecondition }));
        var portfolio = b.Orders.GetPortfolio("acc-bob");
        Assert.Equal(40, portfolio.Positions.Single(p => p.Symbol == "HOOL").Quantity);
        Assert.InRange(portfolio.Cash, 0, 50_000 - 4 * 10 * 1000);
        var updates = await a.Feed.ReadAsync(OrderBook.StreamOf("acc-bob"), 0, 100, CancellationToken.None);
        Assert.Equal(Enumerable.Range(1, 8).Select(i => (long)i), updates.Select(u => u.Sequence));
    }
}
