using System.Globalization;
using System.Net;
using System.Text.Json;
using EdgeBridge.FunctionalTests.Common;

namespace EdgeBridge.FunctionalTests.Proxy;

/// <summary>Every REST route of the contract, called through the edge's HTTP port.</summary>
public sealed class RestRoutesTests(StackFixture stack) : IClassFixture<StackFixture>
{
    [Fact]
    public async Task Login_ValidCredentials_ReturnsBearerTokenForOwnAccount()
    {
        var (response, json) = await stack.SendAsync(HttpMethod.Post, "/v1/auth/login", body: new { username = "bob", password = "builder" });

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("acc-bob", json.GetProperty("accountId").GetString());
        Assert.Equal("Bearer", json.GetProperty("tokenType").GetString());
        Assert.Equal(3, json.GetProperty("accessToken").GetString()!.Split('.').Length);
        var expires = DateTimeOffset.Parse(json.GetProperty("expiresAt").GetString()!, CultureInfo.InvariantCulture);
        Assert.InRange(expires - DateTimeOffset.UtcNow, TimeSpan.FromMinutes(50), TimeSpan.FromMinutes(61));
    }

    [Fact]
    public async Task Refresh_RotatesTheRefreshToken_ReuseRevokesTheSignIn_Unauthenticated401()
    {
        var (_, login) = await stack.SendAsync(HttpMethod.Post, "/v1/auth/login", body: new { username = "bob", password = "builder" });
        var first = login.GetProperty("refreshToken").GetString()!;

        var (refreshed, next) = await stack.SendAsync(HttpMethod.Post, "/v1/auth/refresh", body: new { refreshToken = first });
        Assert.Equal(HttpStatusCode.OK, refreshed.StatusCode);
        Assert.Equal("acc-bob", next.GetProperty("accountId").GetString());
        var second = next.GetProperty("refreshToken").GetString()!;
        Assert.NotEqual(first, second);
        // The new access token works.
        var (portfolio, _) = await stack.SendAsync(HttpMethod.Get, "/v1/accounts/acc-bob/portfolio", new Session(next.GetProperty("accessToken").GetString()!, "acc-bob"));
        Assert.Equal(HttpStatusCode.OK, portfolio.StatusCode);

        // The first one again: a copy is in use somewhere. Both it and the current one stop working.
        var (reused, reuseBody) = await stack.SendAsync(HttpMethod.Post, "/v1/auth/refresh", body: new { refreshToken = first });
        StatusAssert.IsRpcStatus(reused, reuseBody, HttpStatusCode.Unauthorized, 16);
        var (revoked, revokedBody) = await stack.SendAsync(HttpMethod.Post, "/v1/auth/refresh", body: new { refreshToken = second });
        StatusAssert.IsRpcStatus(revoked, revokedBody, HttpStatusCode.Unauthorized, 16);
        Assert.Contains("revoked", revokedBody.GetProperty("message").GetString());

        var (missing, missingBody) = await stack.SendAsync(HttpMethod.Post, "/v1/auth/refresh", body: new { });
        StatusAssert.IsRpcStatus(missing, missingBody, HttpStatusCode.BadRequest, 3);
    }

    [Fact]
    public async Task GetQuote_ListedSymbol_ReturnsCanonicalProto3Json()
    {
        var (response, json) = await stack.SendAsync(HttpMethod.Get, "/v1/quotes/ACME");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var quote = json.GetProperty("quote");
        Assert.Equal("ACME", quote.GetProperty("symbol").GetString());
        Assert.True(quote.GetProperty("price").GetDouble() > 0);
        Assert.True(quote.GetProperty("bid").GetDouble() < quote.GetProperty("ask").GetDouble());
        // int64 as a string, Timestamp as RFC 3339 in UTC.
        Assert.Equal(JsonValueKind.String, quote.GetProperty("sequence").ValueKind);
        Assert.EndsWith("Z", quote.GetProperty("time").GetString());
        Assert.True(DateTimeOffset.TryParse(quote.GetProperty("time").GetString(), CultureInfo.InvariantCulture, out _));
    }

    [Fact]
    public async Task ListSymbols_ReturnsSortedSymbolsWithNames()
    {
        var (response, json) = await stack.SendAsync(HttpMethod.Get, "/v1/symbols");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var symbols = json.GetProperty("symbols").EnumerateArray().Select(s => s.GetProperty("symbol").GetString()!).ToList();
        Assert.Contains("ACME", symbols);
        Assert.True(symbols.Count >= 10);
        Assert.Equal(symbols.Order(StringComparer.Ordinal), symbols);
    }

    [Fact]
    public async Task GetPortfolio_OwnAccount_ReturnsCashPositionsAndEquity()
    {
        var alice = await stack.LoginAsync();

        var (response, json) = await stack.SendAsync(HttpMethod.Get, $"/v1/accounts/{alice.AccountId}/portfolio", alice);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var portfolio = json.GetProperty("portfolio");
        Assert.Equal("acc-alice", portfolio.GetProperty("accountId").GetString());
        var positions = portfolio.GetProperty("positions").EnumerateArray().ToList();
        Assert.Contains(positions, p => p.GetProperty("symbol").GetString() == "HOOL");
        var cash = portfolio.GetProperty("cash").GetDouble();
        var value = portfolio.GetProperty("marketValue").GetDouble();
        Assert.Equal(cash + value, portfolio.GetProperty("equity").GetDouble(), 2);
    }

    [Fact]
    public async Task PlaceOrder_MarketBuy_FillsAndMovesCashIntoPosition()
    {
        var alice = await stack.LoginAsync();
        var before = (await stack.SendAsync(HttpMethod.Get, $"/v1/accounts/{alice.AccountId}/portfolio", alice)).Json.GetProperty("portfolio");

        var (response, json) = await stack.SendAsync(HttpMethod.Post, $"/v1/accounts/{alice.AccountId}/orders", alice,
            new { symbol = "GLBX", side = "ORDER_SIDE_BUY", quantity = "4" });

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var order = json.GetProperty("order");
        Assert.Equal("ORDER_STATUS_FILLED", order.GetProperty("status").GetString());
        Assert.Equal("ORDER_TYPE_MARKET", order.GetProperty("type").GetString());
        Assert.Equal("4", order.GetProperty("filledQuantity").GetString());
        var fill = order.GetProperty("averageFillPrice").GetDouble();
        var after = (await stack.SendAsync(HttpMethod.Get, $"/v1/accounts/{alice.AccountId}/portfolio", alice)).Json.GetProperty("portfolio");
        Assert.Equal(before.GetProperty("cash").GetDouble() - 4 * fill, after.GetProperty("cash").GetDouble(), 2);
        Assert.Equal(HeldQuantity(before, "GLBX") + 4, HeldQuantity(after, "GLBX"));
    }

    [Fact]
    public async Task GetOrder_PlacedOrder_ReturnsSameOrder()
    {
        var alice = await stack.LoginAsync();
        var placed = (await stack.SendAsync(HttpMethod.Post, $"/v1/accounts/{alice.AccountId}/orders", alice,
            new { symbol = "INIT", side = "ORDER_SIDE_BUY", quantity = "1" })).Json.GetProperty("order");

        var (response, json) = await stack.SendAsync(HttpMethod.Get, $"/v1/accounts/{alice.AccountId}/orders/{placed.GetProperty("orderId").GetString()}", alice);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(placed.GetRawText(), json.GetProperty("order").GetRawText());
    }

    [Fact]
    public async Task CancelOrder_RestingLimitOrder_BecomesCanceled()
    {
        var alice = await stack.LoginAsync();
        var placed = (await stack.SendAsync(HttpMethod.Post, $"/v1/accounts/{alice.AccountId}/orders", alice,
            new { symbol = "ACME", side = "ORDER_SIDE_BUY", quantity = "1", type = "ORDER_TYPE_LIMIT", limitPrice = 0.01 })).Json.GetProperty("order");
        Assert.Equal("ORDER_STATUS_ACCEPTED", placed.GetProperty("status").GetString());

        var (response, json) = await stack.SendAsync(HttpMethod.Post,
            $"/v1/accounts/{alice.AccountId}/orders/{placed.GetProperty("orderId").GetString()}:cancel", alice);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("ORDER_STATUS_CANCELED", json.GetProperty("order").GetProperty("status").GetString());
    }

    [Fact]
    public async Task PlaceOrder_SameClientOrderIdTwice_PlacesOneOrder()
    {
        var alice = await stack.LoginAsync();
        var body = new { symbol = "PIED", side = "ORDER_SIDE_BUY", quantity = "2", clientOrderId = "retry-" + Guid.NewGuid().ToString("N") };

        var first = (await stack.SendAsync(HttpMethod.Post, $"/v1/accounts/{alice.AccountId}/orders", alice, body)).Json.GetProperty("order");
        var second = (await stack.SendAsync(HttpMethod.Post, $"/v1/accounts/{alice.AccountId}/orders", alice, body)).Json.GetProperty("order");

        Assert.Equal(first.GetProperty("orderId").GetString(), second.GetProperty("orderId").GetString());
    }

    [Fact]
    public async Task PostAndListMessages_RoomKeepsOrderAndPagesByAfterSequence()
    {
        var alice = await stack.LoginAsync();
        var bob = await stack.LoginAsync("bob", "builder");
        var room = "room-" + Guid.NewGuid().ToString("N")[..8];

        var posted = new List<long>();
        foreach (var (session, text) in new[] { (alice, "hi bob"), (bob, "hi alice"), (alice, "buy ACME?") })
        {
            var (response, json) = await stack.SendAsync(HttpMethod.Post, $"/v1/rooms/{room}/messages", session, new { text });
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            posted.Add(long.Parse(json.GetProperty("message").GetProperty("sequence").GetString()!, CultureInfo.InvariantCulture));
        }

        Assert.Equal([1L, 2L, 3L], posted);
        var (_, page) = await stack.SendAsync(HttpMethod.Get, $"/v1/rooms/{room}/messages?afterSequence=1&pageSize=1");
        var message = Assert.Single(page.GetProperty("messages").EnumerateArray());
        Assert.Equal("bob", message.GetProperty("author").GetString());
        Assert.Equal("hi alice", message.GetProperty("text").GetString());
        Assert.True(page.GetProperty("hasMore").GetBoolean());
    }

    private static long HeldQuantity(JsonElement portfolio, string symbol) => portfolio.GetProperty("positions").EnumerateArray()
        .Where(p => p.GetProperty("symbol").GetString() == symbol)
        .Select(p => long.Parse(p.GetProperty("quantity").GetString()!, CultureInfo.InvariantCulture))
        .SingleOrDefault();
}
