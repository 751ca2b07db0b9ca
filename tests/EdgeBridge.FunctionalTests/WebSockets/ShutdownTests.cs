using System.Net.WebSockets;
using EdgeBridge.FunctionalTests.Common;

namespace EdgeBridge.FunctionalTests.WebSockets;

/// <summary>Edge shutdown and backend outages, each with its own stack.</summary>
public sealed class ShutdownTests : IAsyncLifetime
{
    private readonly StackFixture _stack = new();

    public Task InitializeAsync() => _stack.InitializeAsync();

    public Task DisposeAsync() => _stack.DisposeAsync();

    [Fact]
    public async Task EdgeShutdown_Sends1001_AndCancelsUpstreamCalls()
    {
        const string method = "chat.v1.ChatService/StreamRoom";
        var (socket, _) = await EdgeSocket.OpenAsync(_stack.Edge);
        await using var __ = socket;
        await socket.SubscribeAsync("r", method, new { room = "shutdown" });
        await Wait.UntilAsync(() => _stack.Backend.Calls.Active(method) == 1, "the upstream call runs");

        var stopping = _stack.Edge.StopAsync();

        Assert.Equal(WebSocketCloseStatus.EndpointUnavailable, await socket.ReceiveCloseAsync());
        await stopping;
        await Wait.UntilAsync(() => _stack.Backend.Calls.Active(method) == 0, "the backend sees the call end");
        Assert.Equal(1, _stack.Backend.Calls.Cancelled(method));
    }

    [Fact]
    public async Task BackendDown_SubscribeAnswersUnavailable_ConnectionSurvives()
    {
        var (socket, _) = await EdgeSocket.OpenAsync(_stack.Edge);
        await using var __ = socket;
        await _stack.Backend.StopAsync();

        await socket.SubscribeAsync("q", "trading.v1.MarketDataService/StreamQuotes");

        var error = await socket.ReceiveAsync();
        Assert.Equal("q", error.Id());
        Assert.Equal(14, error.Code());
        await socket.SendAsync(new { type = "ping" });
        Assert.Equal("pong", (await socket.ReceiveAsync()).Type());
    }

    [Fact]
    public async Task BackendStopsMidStream_SubscriberGetsUnavailable_ThenResumesAfterRestart()
    {
        var alice = await _stack.LoginAsync();
        var (socket, _) = await EdgeSocket.OpenAsync(_stack.Edge, alice.Token);
        await using var __ = socket;
        await _stack.SendAsync(HttpMethod.Post, "/v1/rooms/restart/messages", alice, new { text = "one" });
        await socket.SubscribeAsync("r", "chat.v1.ChatService/StreamRoom", new { room = "restart" });
        var first = await socket.ReceiveAsync();

        await _stack.Backend.StopAsync();
        var (error, _) = await socket.ReceiveUntilAsync(f => f.Type() == "error");
        await _stack.Backend.StartAsync();
        await _stack.SendAsync(HttpMethod.Post, "/v1/rooms/restart/messages", alice, new { text = "two" });
        await socket.SubscribeAsync("r", "chat.v1.ChatService/StreamRoom", new { room = "restart", afterSequence = "1" });
        var resumed = await socket.ReceiveAsync();

        Assert.Equal("one", first.GetProperty("message").GetProperty("message").GetProperty("text").GetString());
        Assert.Equal(14, error.Code());
        Assert.Equal("two", resumed.GetProperty("message").GetProperty("message").GetProperty("text").GetString());
        Assert.Equal("2", resumed.GetProperty("message").GetProperty("message").GetProperty("sequence").GetString());
    }
}
