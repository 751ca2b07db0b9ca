using System.Net;
using System.Net.Http.Json;
using System.Net.WebSockets;
using EdgeBridge.FunctionalTests.Common;

namespace EdgeBridge.FunctionalTests.WebSockets;

/// <summary>
/// Keepalive, the inbound frame budget, the init timeout and login lockouts all run on the edge's
/// <see cref="TimeProvider"/>: driven here by a fake clock, so nothing waits for real time to pass (token expiry:
/// <c>Security/TokenLifetimeTests</c>).
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

/// <summary>Login lockouts, which take minutes of clock time.</summary>
public sealed class LongClockTests(LongJumpClockStackFixture stack) : IClassFixture<LongJumpClockStackFixture>
{
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
