using System.Net.WebSockets;
using EdgeBridge.FunctionalTests.Common;

namespace EdgeBridge.FunctionalTests.Security;

/// <summary>
/// Long-lived sockets outlive tokens: refresh with an auth frame, or lose only what needed the token. The edge's
/// clock is the test's, so expiry happens when the test says, not after a wait.
/// </summary>
public sealed class TokenLifetimeTests(LongJumpClockStackFixture stack) : IClassFixture<LongJumpClockStackFixture>
{
    private const string StreamOrderUpdates = "trading.v1.TradingService/StreamOrderUpdates";

    /// <summary>
    /// A token that expires <paramref name="lifetime"/> from now on the edge's clock. The backend judges tokens by the
    /// real clock, which the edge's runs ahead of once a test has advanced it: the token is issued at the earlier of
    /// the two, so that both accept it.
    /// </summary>
    private string Token(TimeSpan lifetime, string user = "alice", string account = "acc-alice")
    {
        var edgeNow = stack.Clock.GetUtcNow();
        var issued = edgeNow < DateTimeOffset.UtcNow ? edgeNow : DateTimeOffset.UtcNow;
        return TokenMinter.Mint(user, account, lifetime: edgeNow + lifetime - issued, issuedAt: issued);
    }

    [Fact]
    public async Task TokenExpires_AuthRequiredSubscriptionsEndUnauthenticated_PublicOnesContinue_AFreshTokenResumes()
    {
        var (socket, _) = await EdgeSocket.OpenAsync(stack.Edge, Token(TimeSpan.FromMinutes(10)));
        await using var __ = socket;
        await socket.SubscribeAsync("orders", StreamOrderUpdates, new { accountId = "acc-alice", afterSequence = "999999" });
        await socket.SubscribeAsync("quotes", "trading.v1.MarketDataService/StreamQuotes", new { symbols = new[] { "ACME" } });
        await socket.ReceiveUntilAsync(f => f.Type() == "next" && f.Id() == "quotes");

        stack.Clock.Advance(TimeSpan.FromMinutes(10));
        var (expired, _) = await socket.ReceiveUntilAsync(f => f.Type() == "error");

        Assert.Equal(("orders", 16), (expired.Id(), expired.Code()));
        for (var i = 0; i < 3; i++)
        {
            await socket.ReceiveUntilAsync(f => f.Type() == "next" && f.Id() == "quotes");
        }

        // Without a fresh token, the edge refuses to open what needs one; with one, it opens again.
        await socket.SubscribeAsync("again", StreamOrderUpdates, new { accountId = "acc-alice" });
        var (refused, _) = await socket.ReceiveUntilAsync(f => f.Type() == "error");
        Assert.Equal(("again", 16), (refused.Id(), refused.Code()));
        await socket.SendAsync(new { type = "auth", token = Token(TimeSpan.FromMinutes(10)) });
        await socket.ReceiveUntilAsync(f => f.Type() == "ack");
        await socket.SubscribeAsync("orders", StreamOrderUpdates, new { accountId = "acc-alice", afterSequence = "999999" });
        await socket.SendAsync(new { type = "ping" });
        var (answer, _) = await socket.ReceiveUntilAsync(f => f.Type() is "pong" or "error");
        Assert.Equal("pong", answer.Type());
    }

    [Fact]
    public async Task AuthFrameBeforeExpiry_Acked_SubscriptionOutlivesTheFirstToken()
    {
        var alice = await stack.LoginAsync();
        var (socket, _) = await EdgeSocket.OpenAsync(stack.Edge, Token(TimeSpan.FromMinutes(3)));
        await using var __ = socket;
        await socket.SubscribeAsync("orders", StreamOrderUpdates, new { accountId = "acc-alice" });

        await socket.SendAsync(new { type = "auth", token = Token(TimeSpan.FromMinutes(30)) });
        Assert.Equal("ack", (await socket.ReceiveAsync()).Type());

        // Well past the first token's expiry (the edge's clock), a new order still reaches the subscription.
        stack.Clock.Advance(TimeSpan.FromMinutes(5));
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
        var (socket, _) = await EdgeSocket.OpenAsync(stack.Edge, Token(TimeSpan.FromHours(1)));
        await using var __ = socket;

        await socket.SendAsync(new { type = "auth", token = TokenMinter.Bad("bad-signature") });
        var bad = await socket.ReceiveAsync();
        await socket.SendAsync(new { type = "auth", token = Token(TimeSpan.FromHours(1), "bob", "acc-bob") });
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
    public async Task ExpiredTokenInInit_Closed4401_AsTheEdgesClockJudgesIt()
    {
        var token = Token(TimeSpan.FromMinutes(1));
        stack.Clock.Advance(TimeSpan.FromMinutes(2));
        await using var socket = await EdgeSocket.ConnectAsync(stack.Edge);

        await socket.SendAsync(new { type = "init", token });

        Assert.Equal(4401, (int?)await socket.ReceiveCloseAsync());
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
