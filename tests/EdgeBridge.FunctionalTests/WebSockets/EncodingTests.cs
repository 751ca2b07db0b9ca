using System.Net.WebSockets;
using EdgeBridge.Contracts.V1;
using EdgeBridge.FunctionalTests.Common;
using Google.Protobuf;
using Trading.V1;

namespace EdgeBridge.FunctionalTests.WebSockets;

/// <summary><c>"encoding":"proto"</c>: binary <c>next</c> frames carrying protobuf, next to JSON subscribers of the same stream.</summary>
public sealed class EncodingTests(StackFixture stack) : IClassFixture<StackFixture>
{
    private const string StreamQuotes = "trading.v1.MarketDataService/StreamQuotes";

    [Fact]
    public async Task ProtoAndJsonSubscribers_ShareOneUpstreamCall_AndReceiveTheSameQuotes()
    {
        var startedBefore = stack.Backend.Calls.Started(StreamQuotes);
        var request = new { symbols = new[] { "PIED" } };
        var (json, _) = await EdgeSocket.OpenAsync(stack.Edge);
        var (proto, _) = await EdgeSocket.OpenAsync(stack.Edge);
        await using var _1 = json;
        await using var _2 = proto;
        await json.SubscribeAsync("j", StreamQuotes, request);
        await proto.SendAsync(new { type = "subscribe", id = "p", method = StreamQuotes, request, encoding = "proto" });

        // The binary subscriber's quotes, decoded with the generated types of the contract.
        var fromProto = new Dictionary<long, StreamQuotesResponse>();
        while (fromProto.Count < 5)
        {
            var (type, payload) = await proto.ReceiveMessageAsync() ?? throw new InvalidOperationException("closed");
            Assert.Equal(WebSocketMessageType.Binary, type);
            var frame = NextFrame.Parser.ParseFrom(payload);
            Assert.Equal("p", frame.Id);
            var message = StreamQuotesResponse.Parser.ParseFrom(frame.Message);
            fromProto[message.Quote.Sequence] = message;
        }

        // The JSON subscriber sees the same quotes, field for field.
        var matched = 0;
        while (matched < 3)
        {
            var (next, _) = await json.ReceiveUntilAsync(f => f.Type() == "next");
            var message = JsonParser.Default.Parse<StreamQuotesResponse>(next.GetProperty("message").GetRawText());
            if (fromProto.TryGetValue(message.Quote.Sequence, out var same))
            {
                Assert.Equal(same, message);
                matched++;
            }
        }

        Assert.Equal(1, stack.Backend.Calls.Started(StreamQuotes) - startedBefore);
    }

    [Fact]
    public async Task ProtoSubscription_ControlFramesStayJson_UnsubscribeCompletes()
    {
        var (socket, _) = await EdgeSocket.OpenAsync(stack.Edge);
        await using var _1 = socket;
        await socket.SendAsync(new { type = "subscribe", id = "p", method = StreamQuotes, request = new { symbols = new[] { "UMBR" } }, encoding = "proto" });
        var first = await socket.ReceiveMessageAsync() ?? throw new InvalidOperationException("closed");
        Assert.Equal(WebSocketMessageType.Binary, first.Type);

        await socket.SendAsync(new { type = "unsubscribe", id = "p" });

        // Binary next frames may still be in flight before the complete; nothing of the id follows it.
        while (true)
        {
            var (type, payload) = await socket.ReceiveMessageAsync() ?? throw new InvalidOperationException("closed");
            if (type == WebSocketMessageType.Text)
            {
                var frame = System.Text.Json.JsonDocument.Parse(payload).RootElement;
                Assert.Equal("complete", frame.Type());
                Assert.Equal("p", frame.Id());
                break;
            }
        }

        await socket.SendAsync(new { type = "ping" });
        Assert.Equal("pong", (await socket.ReceiveAsync()).Type());
    }

    [Theory]
    [InlineData("\"xml\"")]
    [InlineData("\"PROTO\"")]
    [InlineData("2")]
    [InlineData("{}")]
    public async Task UnknownEncoding_IsInvalidArgument_AndTheConnectionGoesOn(string encoding)
    {
        var (socket, _) = await EdgeSocket.OpenAsync(stack.Edge);
        await using var _1 = socket;

        await socket.SendTextAsync($$"""{"type":"subscribe","id":"bad","method":"{{StreamQuotes}}","request":{"symbols":["ACME"]},"encoding":{{encoding}}}""");

        var error = await socket.ReceiveAsync();
        Assert.Equal("error", error.Type());
        Assert.Equal("bad", error.Id());
        Assert.Equal(3, error.Code());
        Assert.Contains("encoding", error.GetProperty("status").GetProperty("message").GetString(), StringComparison.Ordinal);

        await socket.SendAsync(new { type = "subscribe", id = "good", method = StreamQuotes, request = new { symbols = new[] { "ACME" } }, encoding = "json" });
        var (next, _) = await socket.ReceiveUntilAsync(f => f.Type() == "next");
        Assert.Equal("good", next.Id());
    }
}
