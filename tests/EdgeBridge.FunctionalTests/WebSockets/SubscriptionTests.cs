using System.Globalization;
using System.Net;
using System.Text.Json;
using EdgeBridge.FunctionalTests.Common;

namespace EdgeBridge.FunctionalTests.WebSockets;

/// <summary>Subscriptions over one multiplexed socket: delivery, lifecycle and the JSON they carry.</summary>
public sealed class SubscriptionTests(StackFixture stack) : IClassFixture<StackFixture>
{
    private const string StreamRoom = "chat.v1.ChatService/StreamRoom";
    private const string StreamQuotes = "trading.v1.MarketDataService/StreamQuotes";
    private const string StreamOrderUpdates = "trading.v1.TradingService/StreamOrderUpdates";

    [Fact]
    public async Task Init_Ack_CarriesConnectionIdAndLimits()
    {
        var (socket, ack) = await EdgeSocket.OpenAsync(stack.Edge);
        await using var _ = socket;

        Assert.False(string.IsNullOrEmpty(ack.GetProperty("connectionId").GetString()));
        var limits = ack.GetProperty("limits");
        Assert.Equal(65536, limits.GetProperty("maxFrameBytes").GetInt32());
        Assert.Equal(100, limits.GetProperty("maxSubscriptions").GetInt32());
    }

    [Fact]
    public async Task FiftySubscriptions_OneSocket_EachGetsItsOwnRoom()
    {
        var alice = await stack.LoginAsync();
        var (socket, _) = await EdgeSocket.OpenAsync(stack.Edge, alice.Token);
        await using var __ = socket;
        var prefix = "multi-" + Guid.NewGuid().ToString("N")[..6];
        var startedBefore = stack.Backend.Calls.Started(StreamRoom);

        for (var i = 0; i < 50; i++)
        {
            await socket.SubscribeAsync($"s{i}", StreamRoom, new { room = $"{prefix}-{i}" });
        }

        await Wait.UntilAsync(() => stack.Backend.Calls.Started(StreamRoom) - startedBefore == 50, "the backend serves 50 room streams");
        for (var i = 0; i < 50; i++)
        {
            await stack.SendAsync(HttpMethod.Post, $"/v1/rooms/{prefix}-{i}/messages", alice, new { text = $"message {i}" });
        }

        var received = new Dictionary<string, string>();
        while (received.Count < 50)
        {
            var frame = await socket.ReceiveAsync();
            Assert.Equal("next", frame.Type());
            received.Add(frame.Id()!, frame.GetProperty("message").GetProperty("message").GetProperty("text").GetString()!);
        }

        for (var i = 0; i < 50; i++)
        {
            Assert.Equal($"message {i}", received[$"s{i}"]);
        }
    }

    [Fact]
    public async Task Unsubscribe_AnswersComplete_AndBackendSeesCancellation()
    {
        var (socket, _) = await EdgeSocket.OpenAsync(stack.Edge);
        await using var __ = socket;
        var room = "unsub-" + Guid.NewGuid().ToString("N")[..6];
        var cancelledBefore = stack.Backend.Calls.Cancelled(StreamRoom);
        var startedBefore = stack.Backend.Calls.Started(StreamRoom);
        await socket.SubscribeAsync("r", StreamRoom, new { room });
        await Wait.UntilAsync(() => stack.Backend.Calls.Started(StreamRoom) > startedBefore, "the backend serves the stream");

        await socket.SendAsync(new { type = "unsubscribe", id = "r" });

        var complete = await socket.ReceiveAsync();
        Assert.Equal("complete", complete.Type());
        Assert.Equal("r", complete.Id());
        await Wait.UntilAsync(() => stack.Backend.Calls.Cancelled(StreamRoom) > cancelledBefore, "the backend observes the cancellation");
    }

    [Fact]
    public async Task SocketClosed_EveryUpstreamCallOfTheSocketIsCancelled()
    {
        var alice = await stack.LoginAsync();
        var socket = (await EdgeSocket.OpenAsync(stack.Edge, alice.Token)).Socket;
        var cancelledBefore = stack.Backend.Calls.Cancelled(StreamOrderUpdates);
        var startedBefore = stack.Backend.Calls.Started(StreamOrderUpdates);
        for (var i = 0; i < 3; i++)
        {
            await socket.SubscribeAsync($"o{i}", StreamOrderUpdates, new { accountId = alice.AccountId, afterSequence = "999999" });
        }

        await Wait.UntilAsync(() => stack.Backend.Calls.Started(StreamOrderUpdates) - startedBefore == 3, "three upstream calls run");

        socket.Abort();
        await socket.DisposeAsync();

        await Wait.UntilAsync(() => stack.Backend.Calls.Cancelled(StreamOrderUpdates) - cancelledBefore == 3, "the backend observes three cancellations");
    }

    [Fact]
    public async Task StreamOrderUpdates_PlacedOrder_ArrivesInSequenceAndResumesAfterSequence()
    {
        var alice = await stack.LoginAsync();
        var (socket, _) = await EdgeSocket.OpenAsync(stack.Edge, alice.Token);
        await using var __ = socket;
        var (_, placedJson) = await stack.SendAsync(HttpMethod.Post, "/v1/accounts/acc-alice/orders", alice, new { symbol = "UMBR", side = "ORDER_SIDE_BUY", quantity = "2" });
        var orderId = placedJson.GetProperty("order").GetProperty("orderId").GetString();

        await socket.SubscribeAsync("o", StreamOrderUpdates, new { accountId = alice.AccountId });
        var (accepted, _) = await socket.ReceiveUntilAsync(f => Update(f).GetProperty("order").GetProperty("orderId").GetString() == orderId);
        var filled = await socket.ReceiveAsync();

        Assert.Equal("ORDER_STATUS_ACCEPTED", Update(accepted).GetProperty("order").GetProperty("status").GetString());
        Assert.Equal("ORDER_STATUS_FILLED", Update(filled).GetProperty("order").GetProperty("status").GetString());
        var acceptedSequence = Sequence(accepted);
        Assert.Equal(acceptedSequence + 1, Sequence(filled));

        // A second subscription resuming after the accepted update gets exactly the fill next.
        await socket.SubscribeAsync("resume", StreamOrderUpdates, new { accountId = alice.AccountId, afterSequence = acceptedSequence.ToString(CultureInfo.InvariantCulture) });
        var (resumed, _) = await socket.ReceiveUntilAsync(f => f.Id() == "resume");
        Assert.Equal(Sequence(filled), Sequence(resumed));
    }

    [Fact]
    public async Task ChatMessage_LooksTheSameOnWebSocketAndRest()
    {
        var alice = await stack.LoginAsync();
        var room = "json-" + Guid.NewGuid().ToString("N")[..6];
        var (socket, _) = await EdgeSocket.OpenAsync(stack.Edge);
        await using var __ = socket;
        await socket.SubscribeAsync("c", StreamRoom, new { room });
        await stack.SendAsync(HttpMethod.Post, $"/v1/rooms/{room}/messages", alice, new { text = "é <b> \"q\" & ' 😀 \\ / tab\t" });

        var frame = await socket.ReceiveAsync();
        var (_, page) = await stack.SendAsync(HttpMethod.Get, $"/v1/rooms/{room}/messages");

        var viaWebSocket = frame.GetProperty("message").GetProperty("message").GetRawText();
        var viaRest = page.GetProperty("messages")[0].GetRawText();
        Assert.Equal(viaRest, viaWebSocket);
    }

    [Fact]
    public async Task DuplicateActiveId_AlreadyExists_ExistingSubscriptionContinues()
    {
        var alice = await stack.LoginAsync();
        var room = "dup-" + Guid.NewGuid().ToString("N")[..6];
        var (socket, _) = await EdgeSocket.OpenAsync(stack.Edge);
        await using var __ = socket;
        await socket.SubscribeAsync("same", StreamRoom, new { room });

        await socket.SubscribeAsync("same", StreamQuotes);
        var error = await socket.ReceiveAsync();
        await stack.SendAsync(HttpMethod.Post, $"/v1/rooms/{room}/messages", alice, new { text = "still here" });
        var next = await socket.ReceiveAsync();

        Assert.Equal("error", error.Type());
        Assert.Equal("same", error.Id());
        Assert.Equal(6, error.Code());
        Assert.Equal("next", next.Type());
        Assert.Equal("still here", next.GetProperty("message").GetProperty("message").GetProperty("text").GetString());
    }

    [Fact]
    public async Task IdReusedAfterComplete_StartsANewSubscription()
    {
        var (socket, _) = await EdgeSocket.OpenAsync(stack.Edge);
        await using var __ = socket;
        await socket.SubscribeAsync("q", StreamQuotes, new { symbols = new[] { "ACME" } });
        await socket.ReceiveUntilAsync(f => f.Type() == "next");
        await socket.SendAsync(new { type = "unsubscribe", id = "q" });
        await socket.ReceiveUntilAsync(f => f.Type() == "complete");

        await socket.SubscribeAsync("q", StreamQuotes, new { symbols = new[] { "HOOL" } });
        var (next, before) = await socket.ReceiveUntilAsync(f => f.Type() == "next" && f.GetProperty("message").GetProperty("quote").GetProperty("symbol").GetString() == "HOOL");

        Assert.Equal("q", next.Id());
        Assert.DoesNotContain(before, f => f.Type() == "error");
    }

    [Fact]
    public async Task Ping_AnsweredWithPong()
    {
        var (socket, _) = await EdgeSocket.OpenAsync(stack.Edge);
        await using var __ = socket;

        await socket.SendAsync(new { type = "ping" });

        Assert.Equal("pong", (await socket.ReceiveAsync()).Type());
    }

    private static JsonElement Update(JsonElement frame) => frame.GetProperty("message").GetProperty("update");

    private static long Sequence(JsonElement frame) => long.Parse(Update(frame).GetProperty("sequence").GetString()!, CultureInfo.InvariantCulture);
}
