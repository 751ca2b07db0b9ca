using System.Net.WebSockets;
using EdgeBridge.FunctionalTests.Common;

namespace EdgeBridge.FunctionalTests.Security;

/// <summary>Long-lived sockets outlive tokens: refresh with an auth frame, or lose only what needed the token.</summary>
public sealed class TokenLifetimeTests(StackFixture stack) : IClassFixture<StackFixture>
{
    private const string StreamOrderUpdates = "trading.v1.TradingService/StreamOrderUpdates";

    [Fact]
    public async Task TokenExpires_AuthRequiredSubscriptionsEndUnauthenticated_PublicOnesContinue()
    {
        var shortLived = TokenMinter.Mint(lifetime: TimeSpan.FromSeconds(3));
        var (socket, _) = await EdgeSocket.OpenAsync(stack.Edge, shortLived);
        await using var __ = socket;
        await socket.SubscribeAsync("orders", StreamOrderUpdates, new { accountId = "acc-alice", afterSequence = "999999" });
        await socket.SubscribeAsync("quotes", "trading.v1.MarketDataService/StreamQuotes", new { symbols = new[] { "ACME" } });

        var (expired, _) = await socket.ReceiveUntilAsync(f => f.Type() == "error");

        Assert.Equal("orders", expired.Id());
        Assert.Equal(16, expired.Code());
        for (var i = 0; i < 3; i++)
        {
            await socket.ReceiveUntilAsync(f => f.Type() == "next" && f.Id() == "quotes");
        }

        // Without a fresh token, the edge refuses to open what needs one.
        await socket.SubscribeAsync("again", StreamOrderUpdates, new { accountId = "acc-alice" });
        var (refused, _) = await socket.ReceiveUntilAsync(f => f.Type() == "error");
        Assert.Equal(("again", 16), (refused.Id(), refused.Code()));
    }

    [Fact]
    public async Task AuthFrameBeforeExpiry_Acked_SubscriptionOutlivesTheFirstToken()
    {
        var alice = await stack.LoginAsync();
        var shortLived = TokenMinter.Mint(lifetime: TimeSpan.FromSeconds(3));
        var (socket, _) = await EdgeSocket.OpenAsync(stack.Edge, shortLived);
        await using var __ = socket;
        await socket.SubscribeAsync("orders", StreamOrderUpdates, new { accountId = "acc-alice" });

        await socket.SendAsync(new { type = "auth", token = TokenMinter.Mint(lifetime: TimeSpan.FromMinutes(10)) });
        Assert.Equal("ack", (await socket.ReceiveAsync()).Type());

        // Well past the first token's expiry, a new order still reaches the subscription.
        var firstExpiry = DateTimeOffset.UtcNow.AddSeconds(3);
        await Wait.UntilAsync(() => DateTimeOffset.UtcNow > firstExpiry.AddSeconds(1), "the first token has expired");
        var (_, placed) = await stack.SendAsync(HttpMethod.Post, "/v1/accounts/acc-alice/orders", alice, new { symbol = "ACME", side = "ORDER_SIDE_BUY", quantity = "1" });

        var orderId = placed.GetProperty("order").GetProperty("orderId").GetString();
        var (update, before) = await socket.ReceiveUntilAsync(f =>
            f.Type() is not ("next" or "ping") || f.GetProperty("message").GetProperty("update").GetProperty("order").GetProperty("orderId").GetString() == orderId);
        Assert.Equal("next", update.Type());
        Assert.DoesNotContain(before, f => f.Type() == "error");
    }

    [Fact]
    public async Task AuthFrameWithBadOrForeignToken_Refused_ConnectionKeepsItsToken()
    {
        var (socket, _) = await EdgeSocket.OpenAsync(stack.Edge, TokenMinter.Mint());
        await using var __ = socket;

        await socket.SendAsync(new { type = "auth", token = TokenMinter.Bad("bad-signature") });
        var bad = await socket.ReceiveAsync();
        await socket.SendAsync(new { type = "auth", token = TokenMinter.Mint("bob", "acc-bob") });
        var foreign = await socket.ReceiveAsync();
        await socket.SubscribeAsync("orders", StreamOrderUpdates, new { accountId = "acc-alice", afterSequence = "999999" });
        await socket.SendAsync(new { type = "ping" });
        var pong = await socket.ReceiveAsync();

        Assert.Equal(("error", 16), (bad.Type(), bad.Code()));
        Assert.Equal(("error", 7), (foreign.Type(), foreign.Code()));
        Assert.Equal("pong", pong.Type());
        Assert.Equal(WebSocketState.Open, socket.State);
    }

    [Fact]
    public async Task AuthRequiredMethod_WithoutToken_RefusedAtTheEdge_NoUpstreamCall()
    {
        var before = stack.Backend.Calls.Started(StreamOrderUpdates);
        var (socket, _) = await EdgeSocket.OpenAsync(stack.Edge);
        await using var __ = socket;

        await socket.SubscribeAsync("orders", StreamOrderUpdates, new { accountId = "acc-alice" });

        var error = await socket.ReceiveAsync();
        Assert.Equal(("orders", 16), (error.Id(), error.Code()));
        Assert.Equal(before, stack.Backend.Calls.Started(StreamOrderUpdates));
    }
}
