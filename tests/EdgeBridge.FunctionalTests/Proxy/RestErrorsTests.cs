using System.Globalization;
using System.Net;
using System.Text;
using EdgeBridge.FunctionalTests.Common;

namespace EdgeBridge.FunctionalTests.Proxy;

/// <summary>Bad input through the edge gets an HTTP status and a google.rpc.Status body, and changes nothing.</summary>
public sealed class RestErrorsTests(StackFixture stack) : IClassFixture<StackFixture>
{
    [Fact]
    public async Task Login_WrongPassword_Unauthenticated401()
    {
        var (response, json) = await stack.SendAsync(HttpMethod.Post, "/v1/auth/login", body: new { username = "alice", password = "nope" });

        StatusAssert.IsRpcStatus(response, json, HttpStatusCode.Unauthorized, 16);
    }

    [Fact]
    public async Task GetPortfolio_NoToken_Unauthenticated401()
    {
        var (response, json) = await stack.SendAsync(HttpMethod.Get, "/v1/accounts/acc-alice/portfolio");

        StatusAssert.IsRpcStatus(response, json, HttpStatusCode.Unauthorized, 16);
    }

    [Fact]
    public async Task GetPortfolio_TamperedToken_Unauthenticated401()
    {
        var alice = await stack.LoginAsync();
        var forged = alice with { Token = alice.Token[..^4] + (alice.Token.EndsWith("AAAA", StringComparison.Ordinal) ? "BBBB" : "AAAA") };

        var (response, json) = await stack.SendAsync(HttpMethod.Get, "/v1/accounts/acc-alice/portfolio", forged);

        StatusAssert.IsRpcStatus(response, json, HttpStatusCode.Unauthorized, 16);
    }

    [Fact]
    public async Task GetPortfolio_AnotherAccount_PermissionDenied403()
    {
        var alice = await stack.LoginAsync();

        var (response, json) = await stack.SendAsync(HttpMethod.Get, "/v1/accounts/acc-bob/portfolio", alice);

        StatusAssert.IsRpcStatus(response, json, HttpStatusCode.Forbidden, 7);
    }

    [Fact]
    public async Task PlaceOrder_InAnotherAccount_PermissionDenied403AndNothingPlaced()
    {
        var alice = await stack.LoginAsync();
        var bob = await stack.LoginAsync("bob", "builder");
        var before = await stack.SendAsync(HttpMethod.Get, "/v1/accounts/acc-bob/portfolio", bob);

        var (response, json) = await stack.SendAsync(HttpMethod.Post, "/v1/accounts/acc-bob/orders", alice,
            new { symbol = "ACME", side = "ORDER_SIDE_BUY", quantity = "1" });

        StatusAssert.IsRpcStatus(response, json, HttpStatusCode.Forbidden, 7);
        var after = await stack.SendAsync(HttpMethod.Get, "/v1/accounts/acc-bob/portfolio", bob);
        Assert.Equal(before.Json.GetProperty("portfolio").GetProperty("cash").GetDouble(), after.Json.GetProperty("portfolio").GetProperty("cash").GetDouble());
    }

    [Fact]
    public async Task PlaceOrder_MalformedJson_InvalidArgument400()
    {
        var alice = await stack.LoginAsync();

        var (response, json) = await stack.SendAsync(HttpMethod.Post, "/v1/accounts/acc-alice/orders", alice, "{\"symbol\": \"ACME\", ");

        StatusAssert.IsRpcStatus(response, json, HttpStatusCode.BadRequest, 3);
    }

    [Fact]
    public async Task PlaceOrder_WrongFieldType_InvalidArgument400NamingTheValue()
    {
        var alice = await stack.LoginAsync();

        var (response, json) = await stack.SendAsync(HttpMethod.Post, "/v1/accounts/acc-alice/orders", alice,
            "{\"symbol\":\"ACME\",\"side\":\"ORDER_SIDE_BUY\",\"quantity\":\"lots\"}");

        StatusAssert.IsRpcStatus(response, json, HttpStatusCode.BadRequest, 3);
        Assert.Contains("lots", json.GetProperty("message").GetString());
    }

    [Theory]
    [InlineData("{\"symbol\":\"ACME\",\"quantity\":\"1\"}", "side")]
    [InlineData("{\"symbol\":\"ACME\",\"side\":\"ORDER_SIDE_BUY\",\"quantity\":\"0\"}", "quantity")]
    [InlineData("{\"symbol\":\"NOPE\",\"side\":\"ORDER_SIDE_BUY\",\"quantity\":\"1\"}", "symbol")]
    [InlineData("{\"symbol\":\"ACME\",\"side\":\"ORDER_SIDE_BUY\",\"quantity\":\"1\",\"type\":\"ORDER_TYPE_LIMIT\"}", "limit_price")]
    public async Task PlaceOrder_InvalidOrder_InvalidArgument400NamingTheField(string body, string field)
    {
        var alice = await stack.LoginAsync();

        var (response, json) = await stack.SendAsync(HttpMethod.Post, "/v1/accounts/acc-alice/orders", alice, body);

        StatusAssert.IsRpcStatus(response, json, HttpStatusCode.BadRequest, 3);
        Assert.Contains(field, json.GetProperty("message").GetString());
    }

    [Fact]
    public async Task PlaceOrder_UnaffordableOrder_FailedPrecondition400AndNoPartialOrderLeft()
    {
        var bob = await stack.LoginAsync("bob", "builder");
        var before = await stack.SendAsync(HttpMethod.Get, "/v1/accounts/acc-bob/portfolio", bob);
        var firstSequence = await LastOrderUpdateSequenceAsync(bob);

        var (response, json) = await stack.SendAsync(HttpMethod.Post, "/v1/accounts/acc-bob/orders", bob,
            new { symbol = "STRK", side = "ORDER_SIDE_BUY", quantity = "1000000" });

        StatusAssert.IsRpcStatus(response, json, HttpStatusCode.BadRequest, 9);
        var after = await stack.SendAsync(HttpMethod.Get, "/v1/accounts/acc-bob/portfolio", bob);
        Assert.Equal(before.Json.GetProperty("portfolio").GetProperty("cash").GetDouble(), after.Json.GetProperty("portfolio").GetProperty("cash").GetDouble());
        Assert.Equal(firstSequence + 1, await LastOrderUpdateSequenceAsync(bob));
    }

    [Fact]
    public async Task GetOrder_UnknownOrder_NotFound404()
    {
        var alice = await stack.LoginAsync();

        var (response, json) = await stack.SendAsync(HttpMethod.Get, "/v1/accounts/acc-alice/orders/ord_missing", alice);

        StatusAssert.IsRpcStatus(response, json, HttpStatusCode.NotFound, 5);
    }

    [Fact]
    public async Task GetQuote_UnknownSymbol_NotFound404()
    {
        var (response, json) = await stack.SendAsync(HttpMethod.Get, "/v1/quotes/NOPE");

        StatusAssert.IsRpcStatus(response, json, HttpStatusCode.NotFound, 5);
        var detail = Assert.Single(json.GetProperty("details").EnumerateArray());
        Assert.Equal("type.googleapis.com/google.rpc.ResourceInfo", detail.GetProperty("@type").GetString());
        Assert.Equal("NOPE", detail.GetProperty("resourceName").GetString());
    }

    [Fact]
    public async Task CancelOrder_FilledOrder_FailedPrecondition400()
    {
        var alice = await stack.LoginAsync();
        var order = (await stack.SendAsync(HttpMethod.Post, "/v1/accounts/acc-alice/orders", alice,
            new { symbol = "INIT", side = "ORDER_SIDE_BUY", quantity = "1" })).Json.GetProperty("order");

        var (response, json) = await stack.SendAsync(HttpMethod.Post, $"/v1/accounts/acc-alice/orders/{order.GetProperty("orderId").GetString()}:cancel", alice);

        StatusAssert.IsRpcStatus(response, json, HttpStatusCode.BadRequest, 9);
    }

    [Fact]
    public async Task PostMessage_NoToken_Unauthenticated401()
    {
        var (response, json) = await stack.SendAsync(HttpMethod.Post, "/v1/rooms/lobby/messages", body: new { text = "anonymous" });

        StatusAssert.IsRpcStatus(response, json, HttpStatusCode.Unauthorized, 16);
    }

    [Theory]
    [InlineData("/v1/nothing-here")]
    [InlineData("/not-an-api")]
    public async Task UnknownRoute_NotFound404Json(string path)
    {
        var (response, json) = await stack.SendAsync(HttpMethod.Get, path);

        StatusAssert.IsRpcStatus(response, json, HttpStatusCode.NotFound, 5);
    }

    [Fact]
    public async Task OversizedBody_WithContentLength_PayloadTooLarge413()
    {
        var text = new string('x', 2 * 1024 * 1024);

        var (response, json) = await stack.SendAsync(HttpMethod.Post, "/v1/auth/login", body: new { username = text, password = "p" });

        StatusAssert.IsRpcStatus(response, json, HttpStatusCode.RequestEntityTooLarge, 8);
    }

    [Fact]
    public async Task OversizedBody_Chunked_PayloadTooLarge413()
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/auth/login")
        {
            Content = new ChunkedContent(Encoding.UTF8.GetBytes("{\"username\":\"" + new string('x', 2 * 1024 * 1024) + "\"}")),
        };

        using var response = await stack.Rest.SendAsync(request);

        var json = System.Text.Json.JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        StatusAssert.IsRpcStatus(response, json, HttpStatusCode.RequestEntityTooLarge, 8);
    }

    /// <summary>
    /// Places a resting probe order and returns the sequence of its update: two probes around a failed request
    /// prove that the failure published nothing in between.
    /// </summary>
    private async Task<long> LastOrderUpdateSequenceAsync(Session session)
    {
        var probe = await stack.SendAsync(HttpMethod.Post, $"/v1/accounts/{session.AccountId}/orders", session,
            new { symbol = "ACME", side = "ORDER_SIDE_BUY", quantity = "1", type = "ORDER_TYPE_LIMIT", limitPrice = 0.01 });
        var probeId = probe.Json.GetProperty("order").GetProperty("orderId").GetString();
        var client = new Trading.V1.TradingService.TradingServiceClient(stack.Grpc);
        using var cts = new CancellationTokenSource(Wait.Deadline);
        using var call = client.StreamOrderUpdates(new Trading.V1.StreamOrderUpdatesRequest { AccountId = session.AccountId }, session.Headers, cancellationToken: cts.Token);
        while (await call.ResponseStream.MoveNext(cts.Token))
        {
            var update = call.ResponseStream.Current.Update;
            if (update.Order.OrderId == probeId)
            {
                return update.Sequence;
            }
        }

        throw new InvalidOperationException("The probe order's update never arrived.");
    }

    private sealed class ChunkedContent(byte[] bytes) : HttpContent
    {
        protected override Task SerializeToStreamAsync(Stream stream, System.Net.TransportContext? context) => stream.WriteAsync(bytes).AsTask();

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }
    }
}
