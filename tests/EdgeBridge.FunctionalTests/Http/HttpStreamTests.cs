using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using EdgeBridge.FunctionalTests.Common;

namespace EdgeBridge.FunctionalTests.Http;

/// <summary>An edge whose HTTP streams send a heartbeat every 200 ms, so an idle stream shows one quickly.</summary>
public sealed class HttpStreamFixture : StackFixture
{
    protected override IDictionary<string, string?> EdgeSettings => new Dictionary<string, string?>
    {
        ["EdgeBridge:Streams:HeartbeatInterval"] = "00:00:00.200",
    };
}

/// <summary>
/// The socket's subscriptions over plain HTTP: server-sent events and NDJSON, the same messages, cursors as SSE ids,
/// Last-Event-ID resuming exactly, heartbeats on idle streams, bearer tokens, and each bad request answered with its
/// HTTP status and a google.rpc.Status.
/// </summary>
public sealed class HttpStreamTests(HttpStreamFixture stack) : IClassFixture<HttpStreamFixture>
{
    private const string Quotes = "/stream/trading.v1.MarketDataService/StreamQuotes";
    private const string Room = "/stream/chat.v1.ChatService/StreamRoom";
    private const string Orders = "/stream/trading.v1.TradingService/StreamOrderUpdates";

    [Fact]
    public async Task Sse_GetWithTheRequestInTheQuery_QuotesAsNextEvents()
    {
        await using var stream = await EventStream.OpenAsync(stack.Rest, HttpMethod.Get, Quotes + "?request=" + Uri.EscapeDataString("""{"symbols":["ACME"]}"""));

        Assert.Equal("text/event-stream", stream.ContentType);
        var next = await stream.NextAsync(e => e.Event == "next");
        var data = JsonDocument.Parse(next.Data).RootElement;
        Assert.Equal("next", data.GetProperty("type").GetString());
        Assert.Equal("ACME", data.GetProperty("message").GetProperty("quote").GetProperty("symbol").GetString());
        Assert.Null(next.Id);
    }

    [Fact]
    public async Task Ndjson_PostWithABearerToken_TheCallersOwnOrderUpdates()
    {
        var alice = await stack.LoginAsync();
        await using var stream = await EventStream.OpenAsync(stack.Rest, HttpMethod.Post, Orders, new { accountId = alice.AccountId }, "application/x-ndjson", alice.Token);
        Assert.Equal("application/x-ndjson", stream.ContentType);

        var (response, _) = await stack.SendAsync(HttpMethod.Post, $"/v1/accounts/{alice.AccountId}/orders", alice,
            new { symbol = "HOOL", side = "ORDER_SIDE_BUY", quantity = "1", clientOrderId = Guid.NewGuid().ToString("N") });
        response.Dispose();

        var line = await stream.NextAsync(e => e.Data.Contains("\"HOOL\"", StringComparison.Ordinal));
        var update = JsonDocument.Parse(line.Data).RootElement.GetProperty("message").GetProperty("update");
        Assert.Equal(alice.AccountId, update.GetProperty("order").GetProperty("accountId").GetString());
    }

    [Fact]
    public async Task Sse_CursorIsTheEventId_LastEventIdResumesExactlyAfterIt()
    {
        var alice = await stack.LoginAsync();
        var room = "sse-" + Guid.NewGuid().ToString("N")[..8];
        for (var i = 1; i <= 4; i++)
        {
            var (posted, _) = await stack.SendAsync(HttpMethod.Post, $"/v1/rooms/{room}/messages", alice, new { text = "m" + i });
            posted.Dispose();
        }

        var request = "?request=" + Uri.EscapeDataString(JsonSerializer.Serialize(new { room }));
        var ids = new List<string>();
        await using (var first = await EventStream.OpenAsync(stack.Rest, HttpMethod.Get, Room + request))
        {
            for (var i = 0; i < 4; i++)
            {
                ids.Add((await first.NextAsync(e => e.Event == "next")).Id!);
            }
        }

        Assert.Equal(["1", "2", "3", "4"], ids);
        await using var resumed = await EventStream.OpenAsync(stack.Rest, HttpMethod.Get, Room + request, lastEventId: "2");
        var next = await resumed.NextAsync(e => e.Event == "next");
        Assert.Equal("3", next.Id);
        Assert.Contains("\"m3\"", next.Data);
    }

    [Fact]
    public async Task Ndjson_LastEventIdOnAPost_ResumesExactlyAfterIt()
    {
        var alice = await stack.LoginAsync();
        var room = "nd-" + Guid.NewGuid().ToString("N")[..8];
        for (var i = 1; i <= 3; i++)
        {
            var (posted, _) = await stack.SendAsync(HttpMethod.Post, $"/v1/rooms/{room}/messages", alice, new { text = "m" + i });
            posted.Dispose();
        }

        await using var resumed = await EventStream.OpenAsync(stack.Rest, HttpMethod.Post, Room, new { room }, "application/x-ndjson", lastEventId: "1");

        var sequences = new List<string>();
        for (var i = 0; i < 2; i++)
        {
            var line = JsonDocument.Parse((await resumed.NextAsync(e => e.Data.Contains("\"next\"", StringComparison.Ordinal))).Data).RootElement;
            sequences.Add(line.GetProperty("message").GetProperty("message").GetProperty("sequence").GetString()!);
        }

        Assert.Equal(["2", "3"], sequences);
    }

    [Fact]
    public async Task IdleStream_HeartbeatsKeepItTalking()
    {
        await using var stream = await EventStream.OpenAsync(stack.Rest, HttpMethod.Get, Room + "?request=" + Uri.EscapeDataString("""{"room":"quiet-room"}"""));

        var heartbeat = await stream.NextAsync(e => e.Comment == "heartbeat");

        Assert.Equal("heartbeat", heartbeat.Comment);
    }

    [Fact]
    public async Task OpenStream_CountedInTheMetrics()
    {
        await using var stream = await EventStream.OpenAsync(stack.Rest, HttpMethod.Get, Quotes + "?request=" + Uri.EscapeDataString("""{"symbols":["HOOL"]}"""));
        await stream.NextAsync(e => e.Event == "next");

        var metrics = await stack.Rest.GetStringAsync("/metrics");
        var line = metrics.Split('\n').Single(l => l.StartsWith("edgebridge_http_streams ", StringComparison.Ordinal) || l.StartsWith("edgebridge_http_streams{", StringComparison.Ordinal));
        Assert.True(double.Parse(line.Split(' ')[^1], System.Globalization.CultureInfo.InvariantCulture) >= 1, line);
    }

    [Fact]
    public async Task ClientLeaves_TheUpstreamCallEnds()
    {
        var room = "leave-" + Guid.NewGuid().ToString("N")[..8];
        var stream = await EventStream.OpenAsync(stack.Rest, HttpMethod.Get, Room + "?request=" + Uri.EscapeDataString(JsonSerializer.Serialize(new { room })));
        await Wait.UntilAsync(() => stack.Backend.Calls.StreamCalls.Any(c => c.Method == "/chat.v1.ChatService/StreamRoom"), "the upstream call is open");
        var active = stack.Backend.Calls.Active("chat.v1.ChatService/StreamRoom");
        Assert.True(active >= 1);

        await stream.DisposeAsync();

        await Wait.UntilAsync(() => stack.Backend.Calls.Active("chat.v1.ChatService/StreamRoom") < active, "the upstream call is cancelled");
    }

    [Theory]
    [InlineData("GET", "/stream/trading.v1.MarketDataService/GetQuote", null, "text/event-stream", null, 404, 5)]
    [InlineData("GET", "/stream/no.such.Service/Method", null, "text/event-stream", null, 404, 5)]
    [InlineData("GET", Quotes + "?request=%7B%22symbols%22%3A5%7D", null, "text/event-stream", null, 400, 3)]
    [InlineData("POST", Quotes, "[1]", "application/x-ndjson", null, 400, 3)]
    [InlineData("GET", Quotes, null, "application/xml", null, 406, 3)]
    [InlineData("GET", Orders + "?request=%7B%22accountId%22%3A%22acc-alice%22%7D", null, "text/event-stream", null, 401, 16)]
    [InlineData("GET", Orders, null, "text/event-stream", "Bearer not-a-token", 401, 16)]
    [InlineData("GET", Room + "?request=%7B%22room%22%3A%22x%22%7D&lastEventId=seven", null, "text/event-stream", null, 400, 3)]
    [InlineData("GET", Quotes + "?lastEventId=3", null, "text/event-stream", null, 400, 3)]
    public async Task BadRequest_AnsweredWithItsStatus_AndAGoogleRpcStatus(string method, string path, string? body, string accept, string? authorization, int status, int code)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), path);
        request.Headers.Accept.ParseAdd(accept);
        if (body is not null)
        {
            request.Content = new StringContent(body, System.Text.Encoding.UTF8, "application/json");
        }

        if (authorization is not null)
        {
            request.Headers.TryAddWithoutValidation("Authorization", authorization);
        }

        using var response = await stack.Rest.SendAsync(request);
        var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;

        StatusAssert.IsRpcStatus(response, json, (HttpStatusCode)status, code);
    }
}

/// <summary>A server-sent-event or NDJSON stream read as the browser would: line by line as it arrives.</summary>
internal sealed class EventStream : IAsyncDisposable
{
    private readonly HttpResponseMessage _response;
    private readonly StreamReader _reader;
    private readonly bool _ndjson;

    private EventStream(HttpResponseMessage response, Stream body)
    {
        _response = response;
        _reader = new StreamReader(body);
        _ndjson = ContentType == "application/x-ndjson";
    }

    public string? ContentType => _response.Content.Headers.ContentType?.MediaType;

    public static async Task<EventStream> OpenAsync(HttpClient http, HttpMethod method, string path, object? body = null, string accept = "text/event-stream",
        string? token = null, string? lastEventId = null)
    {
        var request = new HttpRequestMessage(method, path);
        request.Headers.Accept.ParseAdd(accept);
        if (body is not null)
        {
            request.Content = JsonContent.Create(body);
        }

        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        if (lastEventId is not null)
        {
            request.Headers.TryAddWithoutValidation("Last-Event-ID", lastEventId);
        }

        var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return new EventStream(response, await response.Content.ReadAsStreamAsync());
    }

    /// <summary>The next event (or NDJSON line, as an event with only data) that matches, within the deadline.</summary>
    public async Task<StreamEvent> NextAsync(Func<StreamEvent, bool> match)
    {
        using var timeout = new CancellationTokenSource(Wait.Deadline);
        while (true)
        {
            var next = await ReadAsync(timeout.Token);
            if (match(next))
            {
                return next;
            }
        }
    }

    private async Task<StreamEvent> ReadAsync(CancellationToken cancellationToken)
    {
        if (_ndjson)
        {
            var line = await _reader.ReadLineAsync(cancellationToken) ?? throw new EndOfStreamException();
            return new StreamEvent(null, null, line, null);
        }

        string? name = null, id = null, comment = null;
        var data = new List<string>();
        while (true)
        {
            var line = await _reader.ReadLineAsync(cancellationToken) ?? throw new EndOfStreamException();
            if (line.Length == 0)
            {
                if (name is null && id is null && data.Count == 0 && comment is null)
                {
                    continue;
                }

                return new StreamEvent(name, id, string.Join('\n', data), comment);
            }

            if (line.StartsWith(':'))
            {
                comment = line[1..].Trim();
            }
            else if (line.StartsWith("event: ", StringComparison.Ordinal))
            {
                name = line["event: ".Length..];
            }
            else if (line.StartsWith("id: ", StringComparison.Ordinal))
            {
                id = line["id: ".Length..];
            }
            else if (line.StartsWith("data: ", StringComparison.Ordinal))
            {
                data.Add(line["data: ".Length..]);
            }
        }
    }

    public ValueTask DisposeAsync()
    {
        _reader.Dispose();
        _response.Dispose();
        return ValueTask.CompletedTask;
    }
}

internal sealed record StreamEvent(string? Event, string? Id, string Data, string? Comment);

/// <summary>
/// EventSource cannot send an Authorization header: it asks for a short-lived single-use ticket over REST and puts
/// that in the URL instead of the token.
/// </summary>
public sealed class StreamTicketTests(HttpStreamFixture stack) : IClassFixture<HttpStreamFixture>
{
    private const string Orders = "/stream/trading.v1.TradingService/StreamOrderUpdates";

    [Fact]
    public async Task Ticket_OpensTheCallersStreamOnce_ThenItIsRefused()
    {
        var alice = await stack.LoginAsync();
        var ticket = await TicketAsync(alice.Token);
        var url = $"{Orders}?request={Uri.EscapeDataString(JsonSerializer.Serialize(new { accountId = alice.AccountId }))}&ticket={ticket}";

        await using (var stream = await EventStream.OpenAsync(stack.Rest, HttpMethod.Get, url))
        {
            var (placed, _) = await stack.SendAsync(HttpMethod.Post, $"/v1/accounts/{alice.AccountId}/orders", alice,
                new { symbol = "STRK", side = "ORDER_SIDE_BUY", quantity = "1", clientOrderId = Guid.NewGuid().ToString("N") });
            placed.Dispose();
            await stream.NextAsync(e => e.Event == "next" && e.Data.Contains("\"STRK\"", StringComparison.Ordinal));
        }

        using var again = await stack.Rest.GetAsync(url);
        var status = JsonDocument.Parse(await again.Content.ReadAsStringAsync()).RootElement;
        StatusAssert.IsRpcStatus(again, status, HttpStatusCode.Unauthorized, 16);
        Assert.Contains("already used", status.GetProperty("message").GetString());
    }

    [Theory]
    [InlineData(null)]
    [InlineData("Bearer not-a-token")]
    public async Task NoValidToken_NoTicket(string? authorization)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/stream/tickets");
        if (authorization is not null)
        {
            request.Headers.TryAddWithoutValidation("Authorization", authorization);
        }

        using var response = await stack.Rest.SendAsync(request);

        StatusAssert.IsRpcStatus(response, JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement, HttpStatusCode.Unauthorized, 16);
    }

    [Theory]
    [InlineData("not-base64!")]
    [InlineData("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")]
    public async Task ForgedOrMangledTicket_Unauthenticated(string ticket)
    {
        using var response = await stack.Rest.GetAsync($"{Orders}?request=%7B%22accountId%22%3A%22acc-alice%22%7D&ticket={Uri.EscapeDataString(ticket)}");

        StatusAssert.IsRpcStatus(response, JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement, HttpStatusCode.Unauthorized, 16);
    }

    private async Task<string> TicketAsync(string token)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/stream/tickets");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var response = await stack.Rest.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.True(DateTimeOffset.Parse(body.GetProperty("expiresAt").GetString()!, System.Globalization.CultureInfo.InvariantCulture) <= DateTimeOffset.UtcNow.AddSeconds(31));
        Assert.DoesNotContain(token, body.GetProperty("ticket").GetString()!);
        return body.GetProperty("ticket").GetString()!;
    }
}
