using EdgeBridge.FunctionalTests.Common;

namespace EdgeBridge.FunctionalTests.WebSockets;

/// <summary>
/// Unary calls over the socket (<c>call</c> → <c>result</c>), for the methods the contract opts in
/// (<c>edgebridge.v1.call</c>), with the access rules of REST; each bad call answered for its id alone while the
/// socket and its subscriptions go on.
/// </summary>
public sealed class SocketCallTests(StackFixture stack) : IClassFixture<StackFixture>
{
    [Fact]
    public async Task PublicCall_WithoutAToken_AnswersWithTheMessage()
    {
        var (socket, _) = await EdgeSocket.OpenAsync(stack.Edge);
        await using var __ = socket;

        await socket.SendAsync(new { type = "call", id = "c1", method = "trading.v1.MarketDataService/GetQuote", request = new { symbol = "ACME" } });

        var (result, _) = await socket.ReceiveUntilAsync(f => f.Id() == "c1");
        Assert.Equal("result", result.Type());
        Assert.Equal("ACME", result.GetProperty("message").GetProperty("quote").GetProperty("symbol").GetString());
    }

    [Fact]
    public async Task PlaceOrder_OverTheSocket_WithTheConnectionsToken_AndItsUpdateArrivesOnTheSameSocket()
    {
        var alice = await stack.LoginAsync();
        var (socket, _) = await EdgeSocket.OpenAsync(stack.Edge, alice.Token);
        await using var __ = socket;
        await socket.SubscribeAsync("u", "trading.v1.TradingService/StreamOrderUpdates", new { accountId = alice.AccountId });
        var clientOrderId = Guid.NewGuid().ToString("N");

        await socket.SendAsync(new
        {
            type = "call", id = "order", method = "trading.v1.TradingService/PlaceOrder",
            request = new { accountId = alice.AccountId, symbol = "PIED", side = "ORDER_SIDE_BUY", quantity = "2", clientOrderId },
        });

        // The order's updates may overtake its result: every frame is kept.
        var (result, before) = await socket.ReceiveUntilAsync(f => f.Id() == "order");
        Assert.Equal("result", result.Type());
        var orderId = result.GetProperty("message").GetProperty("order").GetProperty("orderId").GetString();
        bool IsItsUpdate(System.Text.Json.JsonElement f) => f.Type() == "next" && f.Id() == "u"
            && f.GetProperty("message").GetProperty("update").GetProperty("order").GetProperty("orderId").GetString() == orderId;
        if (!before.Any(IsItsUpdate))
        {
            await socket.ReceiveUntilAsync(IsItsUpdate);
        }
    }

    [Theory]
    [InlineData("trading.v1.TradingService/PlaceOrder", "{\"accountId\":\"acc-alice\",\"symbol\":\"PIED\",\"side\":\"ORDER_SIDE_BUY\",\"quantity\":\"1\"}", 16)]
    [InlineData("trading.v1.TradingService/GetPortfolio", "{\"accountId\":\"acc-alice\"}", 5)]
    [InlineData("trading.v1.MarketDataService/StreamQuotes", "{}", 5)]
    [InlineData("trading.v1.AuthService/Login", "{\"username\":\"alice\",\"password\":\"wonderland\"}", 5)]
    [InlineData("no.such.Service/Call", "{}", 5)]
    [InlineData("trading.v1.MarketDataService/GetQuote", "{\"symbol\":5}", 3)]
    [InlineData("trading.v1.MarketDataService/GetQuote", "[1]", 3)]
    [InlineData("trading.v1.MarketDataService/GetQuote", "{\"symbol\":\"NOPE\"}", 5)]
    public async Task BadCall_ErrorForItsIdAlone_TheSocketGoesOn(string method, string request, int code)
    {
        var (socket, _) = await EdgeSocket.OpenAsync(stack.Edge);
        await using var __ = socket;
        await socket.SubscribeAsync("q", "trading.v1.MarketDataService/StreamQuotes", new { symbols = new[] { "ACME" } });
        await socket.ReceiveUntilAsync(f => f.Type() == "next" && f.Id() == "q");

        await socket.SendTextAsync($"{{\"type\":\"call\",\"id\":\"bad\",\"method\":\"{method}\",\"request\":{request}}}");

        var (error, _) = await socket.ReceiveUntilAsync(f => f.Id() == "bad");
        Assert.Equal("error", error.Type());
        Assert.Equal(code, error.Code());
        await socket.ReceiveUntilAsync(f => f.Type() == "next" && f.Id() == "q");
        await socket.SendAsync(new { type = "call", id = "good", method = "trading.v1.MarketDataService/GetQuote", request = new { symbol = "HOOL" } });
        Assert.Equal("result", (await socket.ReceiveUntilAsync(f => f.Id() == "good")).Match.Type());
    }
}
