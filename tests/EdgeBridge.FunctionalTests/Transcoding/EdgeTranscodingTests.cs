using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using EdgeBridge.FunctionalTests.Common;

namespace EdgeBridge.FunctionalTests.Transcoding;

/// <summary>
/// An edge with no REST route to the backend: every REST request is transcoded at the edge into a gRPC call, as it
/// would be for a backend that does not transcode itself (any language).
/// </summary>
public sealed class NoRestRouteFixture : StackFixture
{
    protected override IDictionary<string, string?> EdgeSettings => new Dictionary<string, string?>
    {
        ["ReverseProxy:Routes:rest:Match:Path"] = "/not-forwarded/{**path}",
    };
}

/// <summary>
/// REST transcoded at the edge against ASP.NET Core's JSON transcoding in the backend as the oracle: the same request
/// to both gets the same status and the same JSON, for reads, commands, path variables, verbs, query parameters,
/// bodies and the backend's errors with their details.
/// </summary>
public sealed class EdgeTranscodingTests(NoRestRouteFixture stack) : IClassFixture<NoRestRouteFixture>
{
    [Fact]
    public async Task ReadsCommandsAndErrors_AnswerAsTheBackendsOwnTranscoding()
    {
        var alice = await stack.LoginAsync();
        var room = "transcoded-" + Guid.NewGuid().ToString("N")[..8];
        using var backend = new HttpClient { BaseAddress = new Uri(stack.Backend.RestAddress) };
        var grpcCalls = stack.Backend.Calls.UnaryCount("chat.v1.ChatService/PostMessage");

        // A command through the edge, then the same reads of its result from both.
        var (posted, postedJson) = await SendAsync(stack.Rest, HttpMethod.Post, $"/v1/rooms/{room}/messages", alice, """{"text":"hello ü <b>"}""");
        var (placed, placedJson) = await SendAsync(stack.Rest, HttpMethod.Post, "/v1/accounts/acc-alice/orders", alice,
            """{"symbol":"ACME","side":"ORDER_SIDE_BUY","quantity":"1","type":"ORDER_TYPE_LIMIT","limitPrice":1,"clientOrderId":"transcoded-1"}""");
        Assert.Equal(HttpStatusCode.OK, posted.StatusCode);
        Assert.Equal(HttpStatusCode.OK, placed.StatusCode);
        Assert.Equal("hello ü <b>", postedJson!["message"]!["text"]!.GetValue<string>());
        Assert.Equal(grpcCalls + 1, stack.Backend.Calls.UnaryCount("chat.v1.ChatService/PostMessage"));
        var orderId = placedJson!["order"]!["orderId"]!.GetValue<string>();

        string[] reads =
        [
            "/v1/symbols",
            $"/v1/rooms/{room}/messages",
            $"/v1/rooms/{room}/messages?pageSize=1&afterSequence=0",
            $"/v1/rooms/{room}/messages?page_size=1&unknown=ignored",
            $"/v1/accounts/acc-alice/orders/{orderId}",
            "/v1/accounts/acc-alice/orders/no-such-order",
            "/v1/quotes/NOPE",
            "/v1/accounts/acc-bob/portfolio",
        ];
        foreach (var path in reads)
        {
            var (viaEdge, edgeJson) = await SendAsync(stack.Rest, HttpMethod.Get, path, alice, null);
            var (direct, directJson) = await SendAsync(backend, HttpMethod.Get, path, alice, null);

            Assert.True(direct.StatusCode == viaEdge.StatusCode, $"{path}: the backend answered {direct.StatusCode}, the edge {viaEdge.StatusCode}: {edgeJson}");
            Assert.True(JsonNode.DeepEquals(directJson, edgeJson), $"{path}\nbackend {directJson?.ToJsonString()}\nedge    {edgeJson?.ToJsonString()}");
        }

        // A query parameter that does not fit its field: the same status and code; the edge's message names the field.
        var (badEdge, badEdgeJson) = await SendAsync(stack.Rest, HttpMethod.Get, $"/v1/rooms/{room}/messages?pageSize=many", alice, null);
        var (badDirect, badDirectJson) = await SendAsync(backend, HttpMethod.Get, $"/v1/rooms/{room}/messages?pageSize=many", alice, null);
        Assert.Equal(badDirect.StatusCode, badEdge.StatusCode);
        Assert.Equal(badDirectJson!["code"]!.GetValue<int>(), badEdgeJson!["code"]!.GetValue<int>());
        Assert.StartsWith("pageSize: ", badEdgeJson["message"]!.GetValue<string>(), StringComparison.Ordinal);

        // A verb with path variables and no body: the same order cancelled through the edge is cancelled.
        var (cancelled, cancelledJson) = await SendAsync(stack.Rest, HttpMethod.Post, $"/v1/accounts/acc-alice/orders/{orderId}:cancel", alice, null);
        Assert.Equal(HttpStatusCode.OK, cancelled.StatusCode);
        Assert.Equal("ORDER_STATUS_CANCELED", cancelledJson!["order"]!["status"]!.GetValue<string>());
    }

    [Fact]
    public async Task AGet_HasAnETag_AndRevalidatesWith304()
    {
        // (/v1/symbols has a proxy route of its own, with a public cache: this read is transcoded.)
        using var first = await stack.Rest.GetAsync("/v1/rooms/etag-room/messages");
        var etag = first.Headers.ETag;
        using var again = new HttpRequestMessage(HttpMethod.Get, "/v1/rooms/etag-room/messages");
        again.Headers.IfNoneMatch.Add(etag!);

        using var second = await stack.Rest.SendAsync(again);

        Assert.NotNull(etag);
        Assert.Equal(["no-cache", "private"], first.Headers.GetValues("Cache-Control").SelectMany(v => v.Split(",", StringSplitOptions.TrimEntries)).Order(StringComparer.Ordinal));
        Assert.Equal(HttpStatusCode.NotModified, second.StatusCode);
    }

    [Theory]
    [InlineData("POST", "/v1/accounts/acc-alice/orders", """{"symbol":"ACME","quantity":"lots"}""", 400, 3, "quantity")]
    [InlineData("POST", "/v1/accounts/acc-alice/orders", """{"symbol":"ACME","nonsense":1}""", 400, 3, "nonsense")]
    [InlineData("POST", "/v1/accounts/acc-alice/orders", """[1,2]""", 400, 3, "object")]
    [InlineData("POST", "/v1/accounts/acc-alice/orders", """{"symbol":""", 400, 3, "JSON")]
    [InlineData("GET", "/v1/no/such/route", null, 404, 5, "No route")]
    public async Task BadRequests_GetAGoogleRpcStatus_NamingTheProblem(string method, string path, string? body, int status, int code, string mentions)
    {
        var alice = await stack.LoginAsync();
        var before = stack.Backend.Calls.UnaryCount("trading.v1.TradingService/PlaceOrder");

        var (response, json) = await SendAsync(stack.Rest, new HttpMethod(method), path, alice, body);

        Assert.Equal(status, (int)response.StatusCode);
        Assert.Equal(code, json!["code"]!.GetValue<int>());
        Assert.Contains(mentions, json["message"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal(before, stack.Backend.Calls.UnaryCount("trading.v1.TradingService/PlaceOrder"));
    }

    [Fact]
    public async Task WithoutAToken_AMethodThatNeedsOne_Is401_AndTheBackendIsNotCalled()
    {
        var before = stack.Backend.Calls.UnaryCount("trading.v1.TradingService/GetPortfolio");

        var (response, json) = await SendAsync(stack.Rest, HttpMethod.Get, "/v1/accounts/acc-alice/portfolio", null, null);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal(16, json!["code"]!.GetValue<int>());
        Assert.Equal(before, stack.Backend.Calls.UnaryCount("trading.v1.TradingService/GetPortfolio"));
    }

    private static async Task<(HttpResponseMessage Response, JsonNode? Json)> SendAsync(HttpClient client, HttpMethod method, string path, Session? session, string? body)
    {
        using var request = new HttpRequestMessage(method, path);
        if (session is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", session.Token);
        }

        if (body is not null)
        {
            request.Content = new StringContent(body, Encoding.UTF8, "application/json");
        }

        var response = await client.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return (response, text.Length == 0 ? null : JsonNode.Parse(text));
    }
}
