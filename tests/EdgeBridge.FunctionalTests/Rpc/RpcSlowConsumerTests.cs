using System.Net.Sockets;
using System.Text.Json;
using EdgeBridge.FunctionalTests.Common;
using EdgeBridge.FunctionalTests.WebSockets;
using EdgeBridge.Streams;

namespace EdgeBridge.FunctionalTests.Rpc;

/// <summary>
/// A Connect stream whose reader stalls is held to its method's slow-consumer policy like a socket subscription:
/// on the shared quote stream (drop oldest) it drops within its bound and goes on when the reader comes back,
/// while another Connect stream of the same upstream call keeps receiving in order.
/// </summary>
public sealed class RpcSlowConsumerTests(FastMarketFixture stack) : IClassFixture<FastMarketFixture>
{
    private const string StreamQuotes = "/trading.v1.MarketDataService/StreamQuotes";

    [Fact]
    public async Task StalledConnectStream_DropsOldest_ThenGoesOn_FastStreamUnaffected()
    {
        var counters = stack.Edge.Services.GetRequiredService<UpstreamStreams>().Counters;
        // A small receive buffer, so that the edge's writes back up within seconds of the reader stalling.
        using var stalledClient = new HttpClient(new SocketsHttpHandler
        {
            ConnectCallback = async (context, cancellationToken) =>
            {
                var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = 4096 };
                await socket.ConnectAsync(context.DnsEndPoint, cancellationToken);
                return new NetworkStream(socket, ownsSocket: true);
            },
        })
        { BaseAddress = new Uri(stack.Edge.HttpAddress), Timeout = Timeout.InfiniteTimeSpan };
        var droppedBefore = counters.MessagesDropped;
        var (stalledResponse, stalled) = await OpenAsync(stalledClient);
        var (fastResponse, fast) = await OpenAsync(stack.Rest);
        using var _1 = stalledResponse;
        using var _2 = fastResponse;

        // The stalled reader reads nothing: its queue reaches the method's bound and drops its oldest quotes...
        await Wait.UntilAsync(() => counters.MessagesDropped > droppedBefore + 1000, "the stalled Connect stream drops its oldest quotes");

        // ...while the fast stream on the same shared upstream call receives in order.
        await ReadInOrderAsync(fast, 2000);

        // The stalled reader comes back: its stream was not ended, it goes on in order, past what it missed.
        await ReadInOrderAsync(stalled, 2000);
    }

    private static async Task<(HttpResponseMessage Response, RpcWire.EnvelopeReader Reader)> OpenAsync(HttpClient client)
    {
        using var request = RpcWire.Post(StreamQuotes, RpcWire.Envelope("{}"), "application/connect+json");
        request.Headers.Add("Connect-Protocol-Version", "1");
        var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
        return (response, new RpcWire.EnvelopeReader(await response.Content.ReadAsStreamAsync()));
    }

    private static async Task ReadInOrderAsync(RpcWire.EnvelopeReader reader, int count)
    {
        var lastSequence = new Dictionary<string, long>(StringComparer.Ordinal);
        for (var i = 0; i < count; i++)
        {
            var (flags, payload) = (await reader.NextAsync().WaitAsync(Wait.Deadline))
                ?? throw new Xunit.Sdk.XunitException($"The stream ended after {i} messages.");
            Assert.True(flags == 0, $"message {i} is the end of the stream: {System.Text.Encoding.UTF8.GetString(payload)}");
            var quote = JsonDocument.Parse(payload).RootElement.GetProperty("quote");
            var symbol = quote.GetProperty("symbol").GetString()!;
            var sequence = long.Parse(quote.GetProperty("sequence").GetString()!, System.Globalization.CultureInfo.InvariantCulture);
            Assert.True(sequence > lastSequence.GetValueOrDefault(symbol, -1), $"{symbol} went from {lastSequence.GetValueOrDefault(symbol)} to {sequence}");
            lastSequence[symbol] = sequence;
        }
    }
}
