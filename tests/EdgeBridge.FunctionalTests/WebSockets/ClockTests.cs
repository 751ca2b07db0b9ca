using System.Net;
using System.Net.Http.Json;
using System.Net.WebSockets;
using EdgeBridge.FunctionalTests.Common;
using Microsoft.Extensions.Time.Testing;

namespace EdgeBridge.FunctionalTests.WebSockets;

/// <summary>An edge whose clock is the test's: time passes only when the test advances it.</summary>
public class ClockStackFixture : StackFixture
{
    public FakeTimeProvider Clock { get; } = new(DateTimeOffset.UtcNow);

    protected override IDictionary<string, string?> EdgeSettings => new Dictionary<string, string?>
    {
        ["EdgeBridge:WebSockets:MaxInboundFramesPerSecond"] = "5",
        ["EdgeBridge:WebSockets:InboundFrameBurst"] = "5",
        ["EdgeBridge:WebSockets:KeepAliveInterval"] = KeepAlive.ToString(),
        ["EdgeBridge:WebSockets:KeepAliveTimeout"] = KeepAlive.ToString(),
        ["EdgeBridge:Logins:PerUserAtAddress:Failures"] = "2",
        ["EdgeBridge:Logins:PerUserAtAddress:Window"] = "00:01:00",
    };

    /// <summary>The keepalive interval and timeout; a fixture that jumps far ahead makes it longer than its jumps.</summary>
    protected virtual TimeSpan KeepAlive => TimeSpan.FromSeconds(20);

    public override Task InitializeAsync()
    {
        Edge.ConfigureServices = services => services.AddSingleton<TimeProvider>(Clock);
        return base.InitializeAsync();
    }
}

/// <summary>
/// Keepalive, the inbound frame budget, token expiry, the init timeout and login lockouts all run on the edge's
/// <see cref="TimeProvider"/>: driven here by a fake clock, so nothing waits for real time to pass.
/// </summary>
public sealed class ClockTests(ClockStackFixture stack) : IClassFixture<ClockStackFixture>
{
    private static readonly TimeSpan s_keepAlive = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task QuietClient_IsPingedWhenTheIntervalPasses_AndCutWhenTheTimeoutPassesWithoutAnswer()
    {
        var (silent, _) = await EdgeSocket.OpenAsync(stack.Edge);
        var (answering, _) = await EdgeSocket.OpenAsync(stack.Edge);
        await using var _1 = silent;
        await using var _2 = answering;

        // One sweep every half interval looks at every connection: past the interval by half of it, both are pinged.
        stack.Clock.Advance(s_keepAlive * 1.5);
        Assert.Equal("ping", (await silent.ReceiveAsync()).Type());
        Assert.Equal("ping", (await answering.ReceiveAsync()).Type());
        await answering.SendAsync(new { type = "pong" });
        await answering.SendAsync(new { type = "ping" });
        await answering.ReceiveUntilAsync(f => f.Type() == "pong");

        stack.Clock.Advance(s_keepAlive);

        Assert.Null(await silent.ReceiveCloseAsync());
        Assert.NotEqual(WebSocketState.Open, silent.State);
        await answering.SendAsync(new { type = "ping" });
        Assert.Equal("pong", (await answering.ReceiveUntilAsync(f => f.Type() == "pong")).Match.Type());
    }

    [Fact]
    public async Task InboundFrameBudget_RefillsOnlyAsTheClockAdvances()
    {
        var (socket, _) = await EdgeSocket.OpenAsync(stack.Edge);
        await using var _1 = socket;

        // init took one frame of the burst of five.
        for (var i = 0; i < 4; i++)
        {
            await socket.SendAsync(new { type = "ping" });
            Assert.Equal("pong", (await socket.ReceiveAsync()).Type());
        }

        stack.Clock.Advance(TimeSpan.FromSeconds(1));
        for (var i = 0; i < 5; i++)
        {
            await socket.SendAsync(new { type = "ping" });
            Assert.Equal("pong", (await socket.ReceiveAsync()).Type());
        }

        await socket.SendAsync(new { type = "ping" });

        Assert.Equal(4429, (int?)await socket.ReceiveCloseAsync());
    }

    [Fact]
    public async Task SilentNewConnection_IsClosed4408_WhenTheInitTimeoutPasses()
    {
        await using var socket = await EdgeSocket.ConnectAsync(stack.Edge);

        stack.Clock.Advance(TimeSpan.FromSeconds(10));

        Assert.Equal(4408, (int?)await socket.ReceiveCloseAsync());
    }
}

/// <summary>A fake-clock edge whose keepalive outlasts the long jumps of its tests.</summary>
public sealed class LongJumpClockStackFixture : ClockStackFixture
{
    protected override TimeSpan KeepAlive => TimeSpan.FromHours(1);
}

/// <summary>Token expiry and login lockouts, which take minutes of clock time.</summary>
public sealed class LongClockTests(LongJumpClockStackFixture stack) : IClassFixture<LongJumpClockStackFixture>
{
    [Fact]
    public async Task Token_ExpiresWhenTheClockSaysSo_AuthRequiredSubscriptionEnds_PublicOneContinues_AFreshTokenResumes()
    {
        var token = TokenMinter.Mint(lifetime: TimeSpan.FromMinutes(10), issuedAt: stack.Clock.GetUtcNow());
        var (socket, _) = await EdgeSocket.OpenAsync(stack.Edge, token);
        await using var _1 = socket;
        await socket.SubscribeAsync("orders", "trading.v1.TradingService/StreamOrderUpdates", new { accountId = "acc-alice", afterSequence = "999999" });
        await socket.SubscribeAsync("quotes", "trading.v1.MarketDataService/StreamQuotes", new { symbols = new[] { "ACME" } });
        await socket.ReceiveUntilAsync(f => f.Type() == "next" && f.Id() == "quotes");

        stack.Clock.Advance(TimeSpan.FromMinutes(10));
        var (expired, _) = await socket.ReceiveUntilAsync(f => f.Type() == "error");

        Assert.Equal(("orders", 16), (expired.Id(), expired.Code()));
        await socket.ReceiveUntilAsync(f => f.Type() == "next" && f.Id() == "quotes");
        await socket.SendAsync(new { type = "auth", token = TokenMinter.Mint(lifetime: TimeSpan.FromMinutes(10), issuedAt: stack.Clock.GetUtcNow()) });
        await socket.ReceiveUntilAsync(f => f.Type() == "ack");
        await socket.SubscribeAsync("orders", "trading.v1.TradingService/StreamOrderUpdates", new { accountId = "acc-alice", afterSequence = "999999" });
        await socket.SendAsync(new { type = "ping" });
        var (answer, _) = await socket.ReceiveUntilAsync(f => f.Type() is "pong" or "error");
        Assert.Equal("pong", answer.Type());
    }

    [Fact]
    public async Task LoginLockout_LastsUntilTheBudgetRefills_NotLonger()
    {
        using var client = Loopback.Http(stack.Edge.HttpAddress, Loopback.Address(50, 1));
        for (var i = 0; i < 2; i++)
        {
            using var wrong = await client.PostAsJsonAsync("/v1/auth/login", new { username = "bob", password = "guess" });
            Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        }

        using var locked = await client.PostAsJsonAsync("/v1/auth/login", new { username = "bob", password = "builder" });
        Assert.Equal(HttpStatusCode.TooManyRequests, locked.StatusCode);
        var retryAfter = locked.Headers.RetryAfter!.Delta!.Value;

        // Two failures per minute: one attempt is back after half a minute.
        Assert.Equal(TimeSpan.FromSeconds(30), retryAfter);
        stack.Clock.Advance(retryAfter);
        using var again = await client.PostAsJsonAsync("/v1/auth/login", new { username = "bob", password = "builder" });
        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
    }
}
