using System.Net;
using System.Text;
using EdgeBridge.FunctionalTests.Common;
using Google.Protobuf;
using Trading.V1;

namespace EdgeBridge.FunctionalTests.Rpc;

/// <summary>
/// gRPC-Web at the edge over HTTP/1.1, binary and text: messages as gRPC envelopes, the status in a trailers frame
/// (or the headers of a trailers-only answer), streams shared and cancelled as on the socket.
/// </summary>
public sealed class GrpcWebTests(RpcFixture stack) : IClassFixture<RpcFixture>
{
    private const string GetQuote = "/trading.v1.MarketDataService/GetQuote";
    private const string StreamQuotes = "/trading.v1.MarketDataService/StreamQuotes";

    private static HttpRequestMessage GrpcWeb(string path, IMessage message, bool text = false, string? token = null)
    {
        var frame = RpcWire.Envelope(message);
        var request = text
            ? RpcWire.Post(path, Encoding.ASCII.GetBytes(Convert.ToBase64String(frame)), "application/grpc-web-text", token)
            : RpcWire.Post(path, frame, "application/grpc-web+proto", token);
        request.Headers.Add("X-Grpc-Web", "1");
        return request;
    }

    private static async Task<List<(byte Flags, byte[] Payload)>> ReadAllAsync(HttpResponseMessage response, bool text = false)
    {
        var body = await response.Content.ReadAsByteArrayAsync();
        if (text)
        {
            // Each envelope is its own padded base64 run.
            body = DecodeRuns(Encoding.ASCII.GetString(body));
        }

        var reader = new RpcWire.EnvelopeReader(new MemoryStream(body));
        var envelopes = new List<(byte, byte[])>();
        while (await reader.NextAsync() is { } envelope)
        {
            envelopes.Add(envelope);
        }

        return envelopes;
    }

    // Base64 four characters at a time, as the grpc-web runtime reads it: padding may end any group.
    private static byte[] DecodeRuns(string text)
    {
        var bytes = new List<byte>();
        for (var i = 0; i < text.Length; i += 4)
        {
            bytes.AddRange(Convert.FromBase64String(text.Substring(i, 4)));
        }

        return [.. bytes];
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Unary_TheMessageThenTheTrailersFrame(bool text)
    {
        using var request = GrpcWeb(GetQuote, new GetQuoteRequest { Symbol = "ACME" }, text);
        using var response = await stack.Rest.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(text ? "application/grpc-web-text+proto" : "application/grpc-web+proto", response.Content.Headers.ContentType?.MediaType);
        var envelopes = await ReadAllAsync(response, text);
        Assert.Equal(2, envelopes.Count);
        Assert.Equal("ACME", GetQuoteResponse.Parser.ParseFrom(envelopes[0].Payload).Quote.Symbol);
        Assert.Equal(0x80, envelopes[1].Flags);
        Assert.Equal("0", RpcWire.Trailers(envelopes[1].Payload)["grpc-status"]);
    }

    [Fact]
    public async Task Errors_AreTrailersOnly_WithTheStatusAndItsDetails()
    {
        using var request = GrpcWeb(GetQuote, new GetQuoteRequest { Symbol = "NOPE" });
        using var response = await stack.Rest.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("5", response.Headers.GetValues("grpc-status").Single());
        Assert.Contains("NOPE", Uri.UnescapeDataString(response.Headers.GetValues("grpc-message").Single()), StringComparison.Ordinal);
        var details = response.Headers.GetValues("grpc-status-details-bin").Single();
        var status = Google.Rpc.Status.Parser.ParseFrom(Convert.FromBase64String(details + new string('=', (4 - details.Length % 4) % 4)));
        Assert.Equal(5, status.Code);
        Assert.True(status.Details.Single().Is(Google.Rpc.ResourceInfo.Descriptor));
        Assert.Empty(await response.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task BadRequests_GetGrpcStatuses()
    {
        var cases = new (HttpRequestMessage Request, int Code)[]
        {
            (RpcWire.Post(GetQuote, [0, 0, 0, 0, 9, 1, 2], "application/grpc-web+proto"), 3),
            (RpcWire.Post(GetQuote, RpcWire.Envelope(1, "x"u8), "application/grpc-web+proto"), 12),
            (RpcWire.Post(GetQuote, RpcWire.Envelope(0, [0xff, 0xff, 0xff]), "application/grpc-web+proto"), 3),
            (RpcWire.Post(GetQuote, "not base64!"u8.ToArray(), "application/grpc-web-text"), 3),
            (RpcWire.Post(GetQuote, RpcWire.Envelope(0, new byte[5000]), "application/grpc-web+proto"), 8),
            (RpcWire.Post("/trading.v1.MarketDataService/Nope", RpcWire.Envelope(0, []), "application/grpc-web+proto"), 12),
            (RpcWire.Post("/trading.v1.TradingService/GetPortfolio", RpcWire.Envelope(new GetPortfolioRequest { AccountId = "acc-alice" }), "application/grpc-web+proto"), 16),
        };
        var timed = GrpcWeb(GetQuote, new GetQuoteRequest { Symbol = "ACME" });
        timed.Headers.Add("grpc-timeout", "soon");
        cases = [.. cases, (timed, 3)];

        foreach (var (request, code) in cases)
        {
            using (request)
            {
                using var response = await stack.Rest.SendAsync(request);
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                Assert.True(code.ToString(System.Globalization.CultureInfo.InvariantCulture) == response.Headers.GetValues("grpc-status").Single(),
                    $"{request.RequestUri}: grpc-status {response.Headers.GetValues("grpc-status").Single()}, {Uri.UnescapeDataString(response.Headers.GetValues("grpc-message").Single())}");
            }
        }
    }

    [Fact]
    public async Task Stream_MessagesUntilTheDeadline_ThenDeadlineExceeded()
    {
        using var request = GrpcWeb(StreamQuotes, new StreamQuotesRequest { Symbols = { "ACME" } });
        request.Headers.Add("grpc-timeout", "300m");
        using var response = await stack.Rest.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);

        var envelopes = await ReadAllAsync(response);

        Assert.Equal("ACME", StreamQuotesResponse.Parser.ParseFrom(envelopes[0].Payload).Quote.Symbol);
        var trailers = envelopes[^1];
        Assert.Equal(0x80, trailers.Flags);
        Assert.Equal("4", RpcWire.Trailers(trailers.Payload)["grpc-status"]);
        Assert.All(envelopes[..^1], e => Assert.Equal(0, e.Flags));
    }

    [Fact]
    public async Task Stream_ClientLeaves_TheUpstreamCallIsCancelled()
    {
        var alice = await stack.LoginAsync();
        const string Method = "trading.v1.TradingService/StreamOrderUpdates";
        var active = stack.Backend.Calls.Active(Method);
        var cancelled = stack.Backend.Calls.Cancelled(Method);
        var request = GrpcWeb("/" + Method, new StreamOrderUpdatesRequest { AccountId = alice.AccountId }, token: alice.Token);
        var response = await stack.Rest.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        await Wait.UntilAsync(() => stack.Backend.Calls.Active(Method) > active, "the upstream call is open");

        response.Dispose();
        request.Dispose();

        await Wait.UntilAsync(() => stack.Backend.Calls.Cancelled(Method) > cancelled, "the upstream call is cancelled");
    }
}
