using System.Net;
using System.Text;
using System.Text.Json;
using EdgeBridge.FunctionalTests.Common;
using Google.Protobuf;
using Trading.V1;

namespace EdgeBridge.FunctionalTests.Rpc;

/// <summary>An edge that allows one foreign origin and takes requests of at most 4 KB over Connect and gRPC-Web.</summary>
public sealed class RpcFixture : StackFixture
{
    public const string AllowedOrigin = "https://app.example";

    protected override IDictionary<string, string?> EdgeSettings => new Dictionary<string, string?>
    {
        ["EdgeBridge:Browser:AllowedOrigins:0"] = AllowedOrigin,
        ["EdgeBridge:Rpc:MaxRequestBytes"] = "4096",
    };
}

/// <summary>
/// The Connect protocol at the edge, spoken byte for byte as its specification says: unary calls in JSON and
/// binary, GET for side-effect-free methods with ETags, server streams with the end-of-stream message, deadlines,
/// and every bad request answered with Connect's error JSON and code while the connection and the edge go on.
/// </summary>
public sealed class ConnectProtocolTests(RpcFixture stack) : IClassFixture<RpcFixture>
{
    private const string GetQuote = "/trading.v1.MarketDataService/GetQuote";
    private const string StreamQuotes = "/trading.v1.MarketDataService/StreamQuotes";
    private const string Orders = "/trading.v1.TradingService/StreamOrderUpdates";

    private async Task<(HttpResponseMessage Response, JsonElement Json)> SendAsync(HttpRequestMessage request)
    {
        using (request)
        {
            var response = await stack.Rest.SendAsync(request);
            var text = await response.Content.ReadAsStringAsync();
            return (response, text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone());
        }
    }

    private static void IsConnectError(HttpResponseMessage response, JsonElement error, HttpStatusCode status, string code)
    {
        Assert.Equal(status, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(code, error.GetProperty("code").GetString());
        Assert.False(string.IsNullOrWhiteSpace(error.GetProperty("message").GetString()));
    }

    [Fact]
    public async Task Unary_Json_AnswersTheMessageAsProto3Json()
    {
        var (response, json) = await SendAsync(RpcWire.Connect(GetQuote, """{"symbol":"ACME"}"""));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("ACME", json.GetProperty("quote").GetProperty("symbol").GetString());
        Assert.Equal(JsonValueKind.String, json.GetProperty("quote").GetProperty("sequence").ValueKind);
    }

    [Fact]
    public async Task Unary_Proto_AnswersTheBinaryMessage()
    {
        using var request = RpcWire.Post(GetQuote, new GetQuoteRequest { Symbol = "HOOL" }.ToByteArray(), "application/proto");
        using var response = await stack.Rest.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/proto", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("HOOL", GetQuoteResponse.Parser.ParseFrom(await response.Content.ReadAsByteArrayAsync()).Quote.Symbol);
    }

    [Fact]
    public async Task LoginPortfolioAndOrder_WithTheBearerToken()
    {
        var (login, session) = await SendAsync(RpcWire.Connect("/trading.v1.AuthService/Login", """{"username":"alice","password":"wonderland"}"""));
        Assert.Equal(HttpStatusCode.OK, login.StatusCode);
        var token = session.GetProperty("accessToken").GetString()!;
        var account = session.GetProperty("accountId").GetString()!;

        var (placed, order) = await SendAsync(RpcWire.Connect("/trading.v1.TradingService/PlaceOrder",
            $$"""{"accountId":"{{account}}","symbol":"ACME","side":"ORDER_SIDE_BUY","quantity":"1","clientOrderId":"{{Guid.NewGuid():N}}"}""", token));
        var (read, portfolio) = await SendAsync(RpcWire.Connect("/trading.v1.TradingService/GetPortfolio", $$"""{"accountId":"{{account}}"}""", token));

        Assert.Equal(HttpStatusCode.OK, placed.StatusCode);
        Assert.Equal("ORDER_STATUS_FILLED", order.GetProperty("order").GetProperty("status").GetString());
        Assert.Equal(HttpStatusCode.OK, read.StatusCode);
        Assert.Contains(portfolio.GetProperty("portfolio").GetProperty("positions").EnumerateArray(), p => p.GetProperty("symbol").GetString() == "ACME");
    }

    [Fact]
    public async Task FailedLogins_AreThrottledBeforeTheBackend()
    {
        var user = "guess-" + Guid.NewGuid().ToString("N")[..8];
        var logins = stack.Backend.Calls.UnaryCount("trading.v1.AuthService/Login");
        var answers = new List<(HttpStatusCode Status, string? Code, bool RetryAfter)>();
        for (var i = 0; i < 8; i++)
        {
            var (response, error) = await SendAsync(RpcWire.Connect("/trading.v1.AuthService/Login", $$"""{"username":"{{user}}","password":"wrong-{{i}}"}"""));
            answers.Add((response.StatusCode, error.GetProperty("code").GetString(), response.Headers.RetryAfter is not null));
        }

        // Five failures per user at an address (the default), then refusals that cost the backend nothing.
        Assert.All(answers.Take(5), a => Assert.Equal((HttpStatusCode.Unauthorized, "unauthenticated"), (a.Status, a.Code)));
        Assert.All(answers.Skip(5), a => Assert.Equal((HttpStatusCode.TooManyRequests, "resource_exhausted", true), a));
        Assert.Equal(logins + 5, stack.Backend.Calls.UnaryCount("trading.v1.AuthService/Login"));
    }

    [Fact]
    public async Task Get_SideEffectFree_IsCacheableWithAnETag()
    {
        var path = GetQuote + "?connect=v1&encoding=json&message=" + Uri.EscapeDataString("""{"symbol":"ACME"}""");
        var (first, quote) = await SendAsync(new HttpRequestMessage(HttpMethod.Get, path));
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal("ACME", quote.GetProperty("quote").GetProperty("symbol").GetString());
        var etag = first.Headers.ETag!;

        // The same answer again is a 304 without a body; binary encoding in base64url reaches the same method.
        var again = new HttpRequestMessage(HttpMethod.Get, path);
        again.Headers.IfNoneMatch.Add(etag);
        using var revalidated = await stack.Rest.SendAsync(again);
        var proto = Convert.ToBase64String(new GetQuoteRequest { Symbol = "ACME" }.ToByteArray()).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        using var binary = await stack.Rest.GetAsync($"{GetQuote}?connect=v1&encoding=proto&base64=1&message={proto}");

        Assert.True(revalidated.StatusCode is HttpStatusCode.NotModified or HttpStatusCode.OK, $"revalidation answered {revalidated.StatusCode}");
        if (revalidated.StatusCode == HttpStatusCode.NotModified)
        {
            Assert.Empty(await revalidated.Content.ReadAsByteArrayAsync());
        }
        else
        {
            // The price moved between the two reads: a new ETag.
            Assert.NotEqual(etag, revalidated.Headers.ETag);
        }

        Assert.Equal(HttpStatusCode.OK, binary.StatusCode);
        Assert.Equal("ACME", GetQuoteResponse.Parser.ParseFrom(await binary.Content.ReadAsByteArrayAsync()).Quote.Symbol);
    }

    [Fact]
    public async Task Get_OfAMethodThatChangesState_IsRefused()
    {
        var (response, error) = await SendAsync(new HttpRequestMessage(HttpMethod.Get,
            "/trading.v1.TradingService/PlaceOrder?connect=v1&encoding=json&message=%7B%7D"));

        IsConnectError(response, error, HttpStatusCode.BadRequest, "invalid_argument");
        Assert.Contains("NO_SIDE_EFFECTS", error.GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task BackendErrors_KeepTheirCodeAndDetails()
    {
        var (response, error) = await SendAsync(RpcWire.Connect(GetQuote, """{"symbol":"NOPE"}"""));

        IsConnectError(response, error, HttpStatusCode.NotFound, "not_found");
        var detail = Assert.Single(error.GetProperty("details").EnumerateArray());
        Assert.Equal("google.rpc.ResourceInfo", detail.GetProperty("type").GetString());
        var padded = detail.GetProperty("value").GetString()!;
        var info = Google.Rpc.ResourceInfo.Parser.ParseFrom(Convert.FromBase64String(padded + new string('=', (4 - padded.Length % 4) % 4)));
        Assert.Equal("NOPE", info.ResourceName);
    }

    [Fact]
    public async Task Tokens_AreCheckedAsOnEveryPath()
    {
        var (missing, noToken) = await SendAsync(RpcWire.Connect("/trading.v1.TradingService/GetPortfolio", """{"accountId":"acc-alice"}"""));
        var (forged, badToken) = await SendAsync(RpcWire.Connect("/trading.v1.TradingService/GetPortfolio", """{"accountId":"acc-alice"}""", "not.a.token"));

        IsConnectError(missing, noToken, HttpStatusCode.Unauthorized, "unauthenticated");
        IsConnectError(forged, badToken, HttpStatusCode.Unauthorized, "unauthenticated");
        Assert.Equal(0, stack.Backend.Calls.UnaryCalls.Count(c => c.Method == "/trading.v1.TradingService/GetPortfolio" && c.Headers.GetValue("authorization") == "Bearer not.a.token"));
    }

    [Fact]
    public async Task BadRequests_GetConnectErrors_AndTheConnectionGoesOn()
    {
        // One connection for all of them: each answer leaves it usable for the next request.
        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 1 }) { BaseAddress = stack.Rest.BaseAddress };
        async Task<(HttpResponseMessage, JsonElement)> Send(HttpRequestMessage request)
        {
            using (request)
            {
                var response = await http.SendAsync(request);
                return (response, JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone());
            }
        }

        var cases = new (HttpRequestMessage Request, HttpStatusCode Status, string Code)[]
        {
            (RpcWire.Connect("/trading.v1.MarketDataService/NoSuchMethod", "{}"), HttpStatusCode.NotImplemented, "unimplemented"),
            (RpcWire.Connect("/trading.v1.Internal/Method", "{}"), HttpStatusCode.NotImplemented, "unimplemented"),
            (RpcWire.Post(GetQuote, "{}"u8.ToArray(), "text/plain"), HttpStatusCode.UnsupportedMediaType, "invalid_argument"),
            (RpcWire.Connect(GetQuote, """{"symbol":"""), HttpStatusCode.BadRequest, "invalid_argument"),
            (RpcWire.Connect(GetQuote, """{"symbol":42,"nope":true}"""), HttpStatusCode.BadRequest, "invalid_argument"),
            (RpcWire.Connect(GetQuote, "{\"symbol\":\"" + new string('A', 8000) + "\"}"), HttpStatusCode.TooManyRequests, "resource_exhausted"),
            (WithHeader(RpcWire.Connect(GetQuote, """{"symbol":"ACME"}"""), "Connect-Timeout-Ms", "soon"), HttpStatusCode.BadRequest, "invalid_argument"),
            (WithHeader(RpcWire.Connect(GetQuote, """{"symbol":"ACME"}"""), "Connect-Protocol-Version", "2"), HttpStatusCode.BadRequest, "invalid_argument"),
            (WithHeader(RpcWire.Connect(GetQuote, """{"symbol":"ACME"}"""), "Origin", "https://evil.example"), HttpStatusCode.Forbidden, "permission_denied"),
            (RpcWire.Connect(StreamQuotes, """{"symbols":["ACME"]}"""), HttpStatusCode.BadRequest, "invalid_argument"),
        };

        foreach (var (request, status, code) in cases)
        {
            var what = $"{request.Method} {request.RequestUri}";
            var (response, error) = await Send(request);
            Assert.True(status == response.StatusCode, $"{what}: {response.StatusCode} {error}");
            Assert.Equal(code, error.GetProperty("code").GetString());
        }

        var (ok, quote) = await Send(RpcWire.Connect(GetQuote, """{"symbol":"ACME"}"""));
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        Assert.Equal("ACME", quote.GetProperty("quote").GetProperty("symbol").GetString());
    }

    [Fact]
    public async Task Stream_QuotesAsEnvelopes_SharedWithEverySubscriber()
    {
        var started = stack.Backend.Calls.Started("trading.v1.MarketDataService/StreamQuotes");
        await using var first = await OpenStreamAsync(StreamQuotes, """{"symbols":["WAYN"]}""");
        await using var second = await OpenStreamAsync(StreamQuotes, """{"symbols":["WAYN"]}""");

        foreach (var stream in new[] { first, second })
        {
            var (flags, payload) = (await stream.Reader.NextAsync())!.Value;
            Assert.Equal(0, flags);
            Assert.Equal("WAYN", JsonDocument.Parse(payload).RootElement.GetProperty("quote").GetProperty("symbol").GetString());
        }

        Assert.Equal(started + 1, stack.Backend.Calls.Started("trading.v1.MarketDataService/StreamQuotes"));
    }

    [Fact]
    public async Task Stream_ClientLeaves_TheUpstreamCallIsCancelled()
    {
        var alice = await stack.LoginAsync();
        var active = stack.Backend.Calls.Active("trading.v1.TradingService/StreamOrderUpdates");
        var cancelled = stack.Backend.Calls.Cancelled("trading.v1.TradingService/StreamOrderUpdates");
        var stream = await OpenStreamAsync(Orders, $$"""{"accountId":"{{alice.AccountId}}"}""", alice.Token);
        await Wait.UntilAsync(() => stack.Backend.Calls.Active("trading.v1.TradingService/StreamOrderUpdates") > active, "the upstream call is open");

        await stream.DisposeAsync();

        await Wait.UntilAsync(() => stack.Backend.Calls.Cancelled("trading.v1.TradingService/StreamOrderUpdates") > cancelled, "the upstream call is cancelled");
    }

    [Fact]
    public async Task Stream_Deadline_EndsWithDeadlineExceeded()
    {
        await using var stream = await OpenStreamAsync(StreamQuotes, """{"symbols":["ACME"]}""", timeoutMs: 300);

        var end = await EndOfStreamAsync(stream);

        Assert.Equal("deadline_exceeded", end.GetProperty("error").GetProperty("code").GetString());
        await Wait.UntilAsync(async () => (await stack.Rest.GetStringAsync("/metrics")).Split('\n').Any(line =>
            line.StartsWith("edgebridge_http_calls_total{", StringComparison.Ordinal)
            && line.Contains("code=\"DEADLINE_EXCEEDED\"", StringComparison.Ordinal)
            && line.Contains("method=\"trading.v1.MarketDataService/StreamQuotes\"", StringComparison.Ordinal)
            && line.Contains("protocol=\"connect\"", StringComparison.Ordinal)), "the ended stream is counted by protocol, method and status");
    }

    [Fact]
    public async Task Stream_Refusals_ComeAsTheEndOfStreamWithA200()
    {
        // Without a token, and with an envelope whose length is wrong: HTTP 200 and the error in the end-of-stream message.
        await using var anonymous = await OpenStreamAsync(Orders, """{"accountId":"acc-alice"}""");
        using var malformed = RpcWire.Post(StreamQuotes, [0, 0, 0, 0, 99, (byte)'{', (byte)'}'], "application/connect+json");
        using var response = await stack.Rest.SendAsync(malformed);

        Assert.Equal("unauthenticated", (await EndOfStreamAsync(anonymous)).GetProperty("error").GetProperty("code").GetString());
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var end = (await new RpcWire.EnvelopeReader(await response.Content.ReadAsStreamAsync()).NextAsync())!.Value;
        Assert.Equal(2, end.Flags);
        Assert.Equal("invalid_argument", JsonDocument.Parse(end.Payload).RootElement.GetProperty("error").GetProperty("code").GetString());
    }

    [Fact]
    public async Task ClientStreamingMethods_AreSocketOnly()
    {
        await using var stream = await OpenStreamAsync("/chat.v1.ChatService/Converse", "{}");

        Assert.Equal("unimplemented", (await EndOfStreamAsync(stream)).GetProperty("error").GetProperty("code").GetString());
    }

    [Fact]
    public async Task Preflight_AllowsTheHeadersConnectSends()
    {
        using var preflight = new HttpRequestMessage(HttpMethod.Options, GetQuote);
        preflight.Headers.Add("Origin", RpcFixture.AllowedOrigin);
        preflight.Headers.Add("Access-Control-Request-Method", "POST");
        preflight.Headers.Add("Access-Control-Request-Headers", "content-type,connect-protocol-version,connect-timeout-ms,authorization");
        using var response = await stack.Rest.SendAsync(preflight);
        var (answer, _) = await SendAsync(WithHeader(RpcWire.Connect(GetQuote, """{"symbol":"ACME"}"""), "Origin", RpcFixture.AllowedOrigin));

        Assert.True(response.IsSuccessStatusCode, $"preflight answered {response.StatusCode}");
        var allowed = string.Join(",", response.Headers.GetValues("Access-Control-Allow-Headers"));
        Assert.Contains("connect-protocol-version", allowed, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("connect-timeout-ms", allowed, StringComparison.OrdinalIgnoreCase);
        Assert.Equal(RpcFixture.AllowedOrigin, answer.Headers.GetValues("Access-Control-Allow-Origin").Single());
    }

    private static HttpRequestMessage WithHeader(HttpRequestMessage request, string name, string value)
    {
        request.Headers.TryAddWithoutValidation(name, value);
        return request;
    }

    private static async Task<JsonElement> EndOfStreamAsync(OpenStream stream)
    {
        while (await stream.Reader.NextAsync() is { } envelope)
        {
            if (envelope.Flags == 2)
            {
                return JsonDocument.Parse(envelope.Payload).RootElement.Clone();
            }
        }

        throw new Xunit.Sdk.XunitException("The stream ended without an end-of-stream message.");
    }

    private async Task<OpenStream> OpenStreamAsync(string path, string json, string? token = null, int? timeoutMs = null)
    {
        var request = RpcWire.Post(path, RpcWire.Envelope(json), "application/connect+json", token);
        request.Headers.Add("Connect-Protocol-Version", "1");
        if (timeoutMs is { } ms)
        {
            request.Headers.Add("Connect-Timeout-Ms", ms.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }

        var response = await stack.Rest.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/connect+json", response.Content.Headers.ContentType?.MediaType);
        return new OpenStream(request, response, new RpcWire.EnvelopeReader(await response.Content.ReadAsStreamAsync()));
    }

    private sealed record OpenStream(HttpRequestMessage Request, HttpResponseMessage Response, RpcWire.EnvelopeReader Reader) : IAsyncDisposable
    {
        public ValueTask DisposeAsync()
        {
            Response.Dispose();
            Request.Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
