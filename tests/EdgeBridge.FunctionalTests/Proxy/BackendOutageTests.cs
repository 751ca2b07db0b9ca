using System.Net;
using System.Text.Json;
using EdgeBridge.FunctionalTests.Common;
using Grpc.Core;
using Trading.V1;

namespace EdgeBridge.FunctionalTests.Proxy;

/// <summary>The backend goes away and comes back: the edge answers in protocol terms meanwhile, and no data is lost.</summary>
public sealed class BackendOutageTests : IAsyncLifetime
{
    private readonly StackFixture _stack = new();

    public Task InitializeAsync() => _stack.InitializeAsync();

    public Task DisposeAsync() => _stack.DisposeAsync();

    [Fact]
    public async Task BackendDown_RestAndGrpcAndReadiness_AnswerUnavailable_ThenRecoverWithDataIntact()
    {
        var alice = await _stack.LoginAsync();
        var placed = (await _stack.SendAsync(HttpMethod.Post, "/v1/accounts/acc-alice/orders", alice,
            new { symbol = "MASS", side = "ORDER_SIDE_BUY", quantity = "3" })).Json.GetProperty("order");
        var posted = (await _stack.SendAsync(HttpMethod.Post, "/v1/rooms/outage/messages", alice, new { text = "before the restart" })).Json;

        await _stack.Backend.StopAsync();

        var (rest, restJson) = await _stack.SendAsync(HttpMethod.Get, "/v1/quotes/ACME");
        StatusAssert.IsRpcStatus(rest, restJson, HttpStatusCode.ServiceUnavailable, 14);
        var grpcError = await Assert.ThrowsAsync<RpcException>(async () =>
            await new MarketDataService.MarketDataServiceClient(_stack.Grpc).GetQuoteAsync(new GetQuoteRequest { Symbol = "ACME" }));
        Assert.Equal(StatusCode.Unavailable, grpcError.StatusCode);
        using (var ready = await _stack.Rest.GetAsync("/readyz"))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
        }

        using (var alive = await _stack.Rest.GetAsync("/healthz"))
        {
            Assert.Equal(HttpStatusCode.OK, alive.StatusCode);
        }

        await _stack.Backend.StartAsync();
        await Wait.UntilAsync(async () => (await _stack.Rest.GetAsync("/readyz")).StatusCode == HttpStatusCode.OK, "the edge sees the backend again");

        // The token still works (same key), and the order and the message survived in the database.
        var (order, orderJson) = await _stack.SendAsync(HttpMethod.Get, $"/v1/accounts/acc-alice/orders/{placed.GetProperty("orderId").GetString()}", alice);
        Assert.Equal(HttpStatusCode.OK, order.StatusCode);
        Assert.Equal(placed.GetRawText(), orderJson.GetProperty("order").GetRawText());
        var (_, page) = await _stack.SendAsync(HttpMethod.Get, "/v1/rooms/outage/messages");
        Assert.Equal(posted.GetProperty("message").GetRawText(), Assert.Single(page.GetProperty("messages").EnumerateArray()).GetRawText());
        var (_, next) = await _stack.SendAsync(HttpMethod.Post, "/v1/rooms/outage/messages", alice, new { text = "after the restart" });
        Assert.Equal("2", next.GetProperty("message").GetProperty("sequence").GetString());
        var (_, portfolio) = await _stack.SendAsync(HttpMethod.Get, "/v1/accounts/acc-alice/portfolio", alice);
        Assert.Contains(portfolio.GetProperty("portfolio").GetProperty("positions").EnumerateArray(),
            p => p.GetProperty("symbol").GetString() == "MASS" && p.GetProperty("quantity").GetString() == "3");
    }
}
