using System.Net;
using System.Text.Json;
using EdgeBridge.FunctionalTests.Common;

namespace EdgeBridge.FunctionalTests.WebSockets;

/// <summary>
/// Bidirectional streams over the socket: <c>subscribe</c> opens the sample's <c>ChatService/Converse</c>,
/// <c>send</c> frames carry the client's messages upstream, <c>end</c> half-closes; replies arrive as <c>next</c>,
/// the end as <c>complete</c> or <c>error</c>. Every misuse ends only the stream it names, with its code.
/// </summary>
public sealed class ClientStreamTests(StackFixture stack) : IClassFixture<StackFixture>
{
    private const string Converse = "chat.v1.ChatService/Converse";
    private const string ConversePath = "/chat.v1.ChatService/Converse";

    private static string NewRoom() => "bidi-" + Guid.NewGuid().ToString("N")[..12];

    private static bool IsMessage(JsonElement frame, string id, string text) => frame.Type() == "next" && frame.Id() == id
        && frame.GetProperty("message").TryGetProperty("message", out var message) && message.GetProperty("text").GetString() == text;

    private static bool IsTyping(JsonElement frame, string id, string user, bool active) => frame.Type() == "next" && frame.Id() == id
        && frame.GetProperty("message").TryGetProperty("typing", out var typing)
        && typing.GetProperty("user").GetString() == user && typing.GetProperty("active").GetBoolean() == active;

    [Fact]
    public async Task TwoUsers_Converse_MessagesAndTypingBothWays_OnOneStreamEach()
    {
        var alice = await stack.LoginAsync("alice", "wonderland");
        var bob = await stack.LoginAsync("bob", "builder");
        var room = NewRoom();
        var (aliceSocket, _) = await EdgeSocket.OpenAsync(stack.Edge, alice.Token);
        await using var __ = aliceSocket;
        var (bobSocket, _) = await EdgeSocket.OpenAsync(stack.Edge, bob.Token);
        await using var ___ = bobSocket;
        await aliceSocket.SubscribeAsync("a", Converse);
        await aliceSocket.SendAsync(new { type = "send", id = "a", message = new { join = new { room } } });
        await bobSocket.SubscribeAsync("b", Converse);
        await bobSocket.SendAsync(new { type = "send", id = "b", message = new { join = new { room } } });

        // Alice's message reaches both streams (hers too): Bob's conversation has joined the room.
        await aliceSocket.SendAsync(new { type = "send", id = "a", message = new { text = "hello bob" } });
        await aliceSocket.ReceiveUntilAsync(f => IsMessage(f, "a", "hello bob"));
        var (fromAlice, _) = await bobSocket.ReceiveUntilAsync(f => IsMessage(f, "b", "hello bob"));
        var message = fromAlice.GetProperty("message").GetProperty("message");
        Assert.Equal("alice", message.GetProperty("author").GetString());
        Assert.Equal(room, message.GetProperty("room").GetString());

        // Bob sees Alice start typing; Alice does not see her own indicator.
        await aliceSocket.SendAsync(new { type = "send", id = "a", message = new { typing = true } });
        await bobSocket.ReceiveUntilAsync(f => IsTyping(f, "b", "alice", true));
        await aliceSocket.SendAsync(new { type = "ping" });
        var (_, aliceBefore) = await aliceSocket.ReceiveUntilAsync(f => f.Type() == "pong");
        Assert.DoesNotContain(aliceBefore, f => f.Type() == "next" && f.GetProperty("message").TryGetProperty("typing", out _));

        // And back: Bob answers on his stream, Alice receives it on hers.
        await bobSocket.SendAsync(new { type = "send", id = "b", message = new { text = "hi alice" } });
        await aliceSocket.ReceiveUntilAsync(f => IsMessage(f, "a", "hi alice"));

        // Alice leaving (end) completes her stream, and she no longer counts as typing for Bob.
        await aliceSocket.SendAsync(new { type = "end", id = "a" });
        await aliceSocket.ReceiveUntilAsync(f => f.Type() == "complete" && f.Id() == "a");
        await bobSocket.ReceiveUntilAsync(f => IsTyping(f, "b", "alice", false));
        await Wait.UntilAsync(() => stack.Backend.Calls.Active(ConversePath) == 1, "Alice's conversation ends at the backend");

        // The messages were stored: REST lists them.
        var (_, list) = await stack.SendAsync(HttpMethod.Get, $"/v1/rooms/{room}/messages");
        Assert.Equal(["hello bob", "hi alice"], list.GetProperty("messages").EnumerateArray().Select(m => m.GetProperty("text").GetString()));
    }

    [Fact]
    public async Task Unsubscribe_CancelsTheBidirectionalCallAtTheBackend()
    {
        var alice = await stack.LoginAsync();
        var (socket, _) = await EdgeSocket.OpenAsync(stack.Edge, alice.Token);
        await using var __ = socket;
        var cancelledBefore = stack.Backend.Calls.Cancelled(ConversePath);
        await socket.SubscribeAsync("c", Converse);
        await socket.SendAsync(new { type = "send", id = "c", message = new { join = new { room = NewRoom() } } });
        await socket.SendAsync(new { type = "send", id = "c", message = new { text = "before leaving" } });
        await socket.ReceiveUntilAsync(f => IsMessage(f, "c", "before leaving"));

        await socket.SendAsync(new { type = "unsubscribe", id = "c" });

        await socket.ReceiveUntilAsync(f => f.Type() == "complete" && f.Id() == "c");
        await Wait.UntilAsync(() => stack.Backend.Calls.Cancelled(ConversePath) > cancelledBefore, "the backend sees the call cancelled");
    }

    [Fact]
    public async Task BackendError_EndsTheStreamWithItsStatus_TheSocketGoesOn()
    {
        var alice = await stack.LoginAsync();
        var (socket, _) = await EdgeSocket.OpenAsync(stack.Edge, alice.Token);
        await using var __ = socket;
        await socket.SubscribeAsync("c", Converse);

        // The backend's rule: the first message must join a room.
        await socket.SendAsync(new { type = "send", id = "c", message = new { text = "too early" } });

        var (error, _) = await socket.ReceiveUntilAsync(f => f.Id() == "c");
        Assert.Equal("error", error.Type());
        Assert.Equal(3, error.Code());
        Assert.Contains("join", error.GetProperty("status").GetProperty("message").GetString());
        await socket.SendAsync(new { type = "ping" });
        await socket.ReceiveUntilAsync(f => f.Type() == "pong");
    }

    [Fact]
    public async Task WithoutAToken_IsRefusedWith16_AndNoCallIsOpened()
    {
        var (socket, _) = await EdgeSocket.OpenAsync(stack.Edge);
        await using var __ = socket;
        var started = stack.Backend.Calls.Started(ConversePath);

        await socket.SubscribeAsync("c", Converse);

        var (error, _) = await socket.ReceiveUntilAsync(f => f.Id() == "c");
        Assert.Equal(16, error.Code());
        Assert.Equal(started, stack.Backend.Calls.Started(ConversePath));
    }

    [Theory]
    [InlineData("unknown-id", 5)]
    [InlineData("server-stream", 9)]
    [InlineData("after-end", 9)]
    [InlineData("not-an-object", 3)]
    [InlineData("wrong-type", 3)]
    [InlineData("unknown-field", 3)]
    public async Task BadSend_EndsOnlyTheStreamItNames_WithItsCode(string kind, int code)
    {
        var alice = await stack.LoginAsync();
        var (socket, _) = await EdgeSocket.OpenAsync(stack.Edge, alice.Token);
        await using var __ = socket;
        await socket.SubscribeAsync("q", "trading.v1.MarketDataService/StreamQuotes", new { symbols = new[] { "ACME" } });
        await socket.ReceiveUntilAsync(f => f.Type() == "next" && f.Id() == "q");
        var room = NewRoom();
        await socket.SubscribeAsync("c", Converse);
        await socket.SendAsync(new { type = "send", id = "c", message = new { join = new { room } } });

        var target = kind switch { "unknown-id" => "nobody", "server-stream" => "q", _ => "c" };
        switch (kind)
        {
            case "unknown-id":
                await socket.SendAsync(new { type = "send", id = "nobody", message = new { text = "x" } });
                break;
            case "server-stream":
                await socket.SendAsync(new { type = "send", id = "q", message = new { symbols = new[] { "HOOL" } } });
                break;
            case "after-end":
                await socket.SendAsync(new { type = "end", id = "c" });
                await socket.SendAsync(new { type = "send", id = "c", message = new { text = "too late" } });
                break;
            case "not-an-object":
                await socket.SendTextAsync("""{"type":"send","id":"c","message":"hello"}""");
                break;
            case "wrong-type":
                await socket.SendTextAsync("""{"type":"send","id":"c","message":{"typing":"very"}}""");
                break;
            case "unknown-field":
                await socket.SendTextAsync("""{"type":"send","id":"c","message":{"shout":"hello"}}""");
                break;
        }

        var (error, _) = await socket.ReceiveUntilAsync(f => f.Id() == target && f.Type() is "error" or "complete");
        Assert.Equal("error", error.Type());
        Assert.Equal(code, error.Code());

        // The other streams go on: quotes keep coming unless the bad send was aimed at them, and the conversation
        // takes messages unless it was the one that ended.
        if (target != "q")
        {
            await socket.ReceiveUntilAsync(f => f.Type() == "next" && f.Id() == "q");
        }

        if (target != "c")
        {
            await socket.SendAsync(new { type = "send", id = "c", message = new { text = "still here" } });
            await socket.ReceiveUntilAsync(f => IsMessage(f, "c", "still here"));
        }

        // And the id of an ended stream is free again.
        await socket.SubscribeAsync(target, Converse);
        await socket.SendAsync(new { type = "send", id = target, message = new { join = new { room } } });
        await socket.SendAsync(new { type = "send", id = target, message = new { text = "again " + kind } });
        await socket.ReceiveUntilAsync(f => IsMessage(f, target, "again " + kind));
    }

    [Fact]
    public async Task Subscribe_WithARequest_IsRefused_MessagesGoInSendFrames()
    {
        var alice = await stack.LoginAsync();
        var (socket, _) = await EdgeSocket.OpenAsync(stack.Edge, alice.Token);
        await using var __ = socket;

        await socket.SubscribeAsync("c", Converse, new { join = new { room = "lobby" } });

        var (error, _) = await socket.ReceiveUntilAsync(f => f.Id() == "c");
        Assert.Equal(3, error.Code());
        Assert.Contains("send frames", error.GetProperty("status").GetProperty("message").GetString());
    }

    [Fact]
    public async Task MalformedSendAndEnd_AreRejectedFrames_TheConnectionGoesOn()
    {
        var (socket, _) = await EdgeSocket.OpenAsync(stack.Edge);
        await using var __ = socket;

        await socket.SendTextAsync("""{"type":"send","message":{}}""");
        var (first, _) = await socket.ReceiveUntilAsync(f => f.Type() == "error");
        await socket.SendTextAsync("""{"type":"end","id":""}""");
        var (second, _) = await socket.ReceiveUntilAsync(f => f.Type() == "error");

        Assert.All(new[] { first, second }, error =>
        {
            Assert.Null(error.Id());
            Assert.Equal(3, error.Code());
        });
        await socket.SendAsync(new { type = "ping" });
        await socket.ReceiveUntilAsync(f => f.Type() == "pong");
    }

    [Fact]
    public async Task HttpStream_OfABidirectionalMethod_Is404_ItIsSocketOnly()
    {
        var alice = await stack.LoginAsync();
        using var request = StackFixture.Request(HttpMethod.Post, "/stream/" + Converse, alice, new { });
        request.Headers.Accept.ParseAdd("text/event-stream");

        using var response = await stack.Rest.SendAsync(request);

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Contains("WebSocket only", await response.Content.ReadAsStringAsync());
    }
}

/// <summary>The edge's gRPC upstream is a backend process a test can stall (SIGSTOP); REST and logins stay in process.</summary>
public sealed class StallingBackendStackFixture : StackFixture
{
    private BackendProcess? _stalling;

    public BackendProcess Stalling => _stalling!;

    protected override IDictionary<string, string?> EdgeSettings => new Dictionary<string, string?>
    {
        ["ReverseProxy:Clusters:backend-grpc:Destinations:backend:Address"] = Stalling.GrpcAddress,

        // The test sends faster than any chat client would, to outrun the upstream.
        ["EdgeBridge:WebSockets:MaxInboundFramesPerSecond"] = "100000",
        ["EdgeBridge:WebSockets:InboundFrameBurst"] = "100000",
    };

    public override async Task InitializeAsync()
    {
        _stalling = await BackendProcess.StartAsync();
        await base.InitializeAsync();
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await Stalling.DisposeAsync();
    }
}

/// <summary>
/// Flow control of the client's messages: a backend that stops reading fills its HTTP/2 window, then the stream's
/// bounded send queue; the next message ends that stream with 8, and the socket and its other streams go on.
/// </summary>
public sealed class ClientStreamFlowControlTests(StallingBackendStackFixture stack) : IClassFixture<StallingBackendStackFixture>
{
    private const string Converse = "chat.v1.ChatService/Converse";

    [Fact]
    public async Task ClientThatOutrunsAStalledBackend_GetsError8ForThatStream_TheSocketGoesOn()
    {
        var alice = await stack.LoginAsync();
        var (socket, _) = await EdgeSocket.OpenAsync(stack.Edge, alice.Token);
        await using var __ = socket;
        var room = "flow-" + Guid.NewGuid().ToString("N")[..12];
        await socket.SubscribeAsync("c", Converse);
        await socket.SendAsync(new { type = "send", id = "c", message = new { join = new { room } } });
        await socket.SendAsync(new { type = "send", id = "c", message = new { text = "warm" } });
        await socket.ReceiveUntilAsync(f => f.Type() == "next" && f.Id() == "c");

        await stack.Stalling.PauseAsync();
        try
        {
            var ended = socket.ReceiveUntilAsync(f => f.Id() == "c" && f.Type() is "error" or "complete");
            var text = new string('x', 1900);
            var sent = 0;

            // The backend's stream window (768 KiB) takes some 400 of these, the send queue 16 more.
            while (!ended.IsCompleted && sent < 5000)
            {
                await socket.SendAsync(new { type = "send", id = "c", message = new { text } });
                sent++;
            }

            var (error, _) = await ended;
            Assert.Equal("error", error.Type());
            Assert.Equal(8, error.Code());
            Assert.Contains("ahead of the upstream", error.GetProperty("status").GetProperty("message").GetString());
            Assert.InRange(sent, 17, 4999);

            // The connection is untouched.
            await socket.SendAsync(new { type = "ping" });
            await socket.ReceiveUntilAsync(f => f.Type() == "pong");
        }
        finally
        {
            await stack.Stalling.ResumeAsync();
        }

        // Once the backend reads again, a new conversation on the same socket works.
        await socket.SubscribeAsync("c2", Converse);
        await socket.SendAsync(new { type = "send", id = "c2", message = new { join = new { room = room + "-2" } } });
        await socket.SendAsync(new { type = "send", id = "c2", message = new { text = "after" } });
        await socket.ReceiveUntilAsync(f => f.Type() == "next" && f.Id() == "c2");
    }
}
