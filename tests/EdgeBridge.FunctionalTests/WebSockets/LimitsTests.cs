using System.Net.WebSockets;
using EdgeBridge.FunctionalTests.Common;

namespace EdgeBridge.FunctionalTests.WebSockets;

/// <summary>An edge with tight WebSocket limits, so each limit can be crossed quickly.</summary>
public sealed class TightLimitsFixture : StackFixture
{
    protected override IDictionary<string, string?> EdgeSettings => new Dictionary<string, string?>
    {
        ["EdgeBridge:WebSockets:MaxFrameBytes"] = "4096",
        ["EdgeBridge:WebSockets:MaxInboundFramesPerSecond"] = "20",
        ["EdgeBridge:WebSockets:InboundFrameBurst"] = "40",
        ["EdgeBridge:WebSockets:MaxMalformedFrames"] = "5",
        ["EdgeBridge:WebSockets:InitTimeout"] = "00:00:03",
        ["EdgeBridge:WebSockets:KeepAliveInterval"] = "00:00:00.500",
        ["EdgeBridge:WebSockets:KeepAliveTimeout"] = "00:00:05",
    };
}

/// <summary>Each limit answers with its close code, and other clients keep being served.</summary>
public sealed class LimitsTests(TightLimitsFixture stack) : IClassFixture<TightLimitsFixture>
{
    [Fact]
    public async Task FrameOverSizeLimit_Closed1009()
    {
        await using var bystander = await OpenWithQuotesAsync();
        var (socket, _) = await EdgeSocket.OpenAsync(stack.Edge);
        await using var __ = socket;

        await socket.SendTextAsync("{\"type\":\"ping\",\"pad\":\"" + new string('x', 8192) + "\"}");

        Assert.Equal(WebSocketCloseStatus.MessageTooBig, await socket.ReceiveCloseAsync());
        await AssertStillServedAsync(bystander);
    }

    [Fact]
    public async Task TooManyMalformedFrames_Closed4400()
    {
        await using var bystander = await OpenWithQuotesAsync();
        var (socket, _) = await EdgeSocket.OpenAsync(stack.Edge);
        await using var __ = socket;

        for (var i = 0; i < 6; i++)
        {
            await socket.SendTextAsync("{broken");
        }

        Assert.Equal(4400, (int?)await socket.ReceiveCloseAsync());
        await AssertStillServedAsync(bystander);
    }

    [Fact]
    public async Task FrameFlood_Closed4429()
    {
        await using var bystander = await OpenWithQuotesAsync();
        var (socket, _) = await EdgeSocket.OpenAsync(stack.Edge);
        await using var __ = socket;

        var closed = Task.Run(socket.ReceiveCloseAsync);
        try
        {
            for (var i = 0; i < 500 && !closed.IsCompleted; i++)
            {
                await socket.SendAsync(new { type = "ping" });
            }
        }
        catch (WebSocketException)
        {
            // The edge may close while frames are still being sent.
        }

        Assert.Equal(4429, (int?)await closed);
        await AssertStillServedAsync(bystander);
    }

    [Fact]
    public async Task NoInitWithinTimeout_Closed4408()
    {
        await using var socket = await EdgeSocket.ConnectAsync(stack.Edge);

        Assert.Equal(4408, (int?)await socket.ReceiveCloseAsync());
    }

    [Fact]
    public async Task IdleConnection_ServerPings_AndAPongKeepsItOpen()
    {
        var (socket, _) = await EdgeSocket.OpenAsync(stack.Edge);
        await using var __ = socket;

        for (var i = 0; i < 3; i++)
        {
            Assert.Equal("ping", (await socket.ReceiveAsync()).Type());
            await socket.SendAsync(new { type = "pong" });
        }

        Assert.Equal(WebSocketState.Open, socket.State);
    }

    [Fact]
    public async Task VanishedClient_NoPong_ConnectionDroppedAndUpstreamCancelled()
    {
        const string method = "chat.v1.ChatService/StreamRoom";
        var cancelledBefore = stack.Backend.Calls.Cancelled(method);
        var (socket, _) = await EdgeSocket.OpenAsync(stack.Edge);
        await using var __ = socket;
        await socket.SubscribeAsync("r", method, new { room = "vanish-" + Guid.NewGuid().ToString("N")[..6] });

        // The client keeps its socket open but never answers: the edge must give up on it by itself.
        await Wait.UntilAsync(() => stack.Backend.Calls.Cancelled(method) > cancelledBefore, "the edge cancels the vanished client's upstream call");
    }

    private async Task<EdgeSocket> OpenWithQuotesAsync()
    {
        var (socket, _) = await EdgeSocket.OpenAsync(stack.Edge);
        await socket.SubscribeAsync("live", "trading.v1.MarketDataService/StreamQuotes");
        await socket.ReceiveUntilAsync(f => f.Type() == "next");
        return socket;
    }

    private static async Task AssertStillServedAsync(EdgeSocket bystander)
    {
        for (var i = 0; i < 3; i++)
        {
            var (frame, _) = await bystander.ReceiveUntilAsync(f => f.Type() is "next" or "ping");
            if (frame.Type() == "ping")
            {
                await bystander.SendAsync(new { type = "pong" });
            }
        }

        Assert.Equal(WebSocketState.Open, bystander.State);
    }
}
