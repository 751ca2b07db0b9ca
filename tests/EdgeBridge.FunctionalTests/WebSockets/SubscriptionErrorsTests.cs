using System.Net;
using EdgeBridge.FunctionalTests.Common;

namespace EdgeBridge.FunctionalTests.WebSockets;

/// <summary>Every error answer of a subscription, each leaving the connection and its other subscriptions working.</summary>
public sealed class SubscriptionErrorsTests(StackFixture stack) : IClassFixture<StackFixture>
{
    [Theory]
    [InlineData("trading.v1.MarketDataService/NoSuchMethod")]
    [InlineData("no.such.Service/Stream")]
    [InlineData("trading.v1.MarketDataService/GetQuote")]
    [InlineData("grpc.health.v1.Health/Watch")]
    public async Task UnknownOrUnexposedMethod_NotFound_LooksTheSame(string method)
    {
        await using var socket = await OpenWithLiveQuotesAsync();

        await socket.SubscribeAsync("x", method);

        var (error, _) = await socket.ReceiveUntilAsync(f => f.Type() == "error");
        Assert.Equal("x", error.Id());
        Assert.Equal(5, error.Code());
        Assert.Equal($"Method '{method}' is not available for subscription.", error.GetProperty("status").GetProperty("message").GetString());
        await AssertQuotesStillFlowAsync(socket);
    }

    [Theory]
    [InlineData("{\"symbols\":5}")]
    [InlineData("{\"noSuchField\":1}")]
    [InlineData("[1,2]")]
    public async Task RequestNotFittingInputType_InvalidArgument(string request)
    {
        await using var socket = await OpenWithLiveQuotesAsync();

        await socket.SendTextAsync($"{{\"type\":\"subscribe\",\"id\":\"bad\",\"method\":\"trading.v1.MarketDataService/StreamQuotes\",\"request\":{request}}}");

        var (error, _) = await socket.ReceiveUntilAsync(f => f.Type() == "error");
        Assert.Equal("bad", error.Id());
        Assert.Equal(3, error.Code());
        await AssertQuotesStillFlowAsync(socket);
    }

    [Fact]
    public async Task BackendStatus_PermissionDenied_PassesThrough()
    {
        var alice = await stack.LoginAsync();
        var (socket, _) = await EdgeSocket.OpenAsync(stack.Edge, alice.Token);
        await using var __ = socket;

        await socket.SubscribeAsync("bobs", "trading.v1.TradingService/StreamOrderUpdates", new { accountId = "acc-bob" });

        var error = await socket.ReceiveAsync();
        Assert.Equal("bobs", error.Id());
        Assert.Equal(7, error.Code());
    }

    [Fact]
    public async Task BackendStatus_NoToken_Unauthenticated()
    {
        var (socket, _) = await EdgeSocket.OpenAsync(stack.Edge);
        await using var __ = socket;

        await socket.SubscribeAsync("mine", "trading.v1.TradingService/StreamOrderUpdates", new { accountId = "acc-alice" });

        Assert.Equal(16, (await socket.ReceiveAsync()).Code());
    }

    [Fact]
    public async Task BackendStatus_DetailsPreservedAsGoogleRpcStatus()
    {
        await using var socket = await OpenWithLiveQuotesAsync();

        await socket.SubscribeAsync("nope", "trading.v1.MarketDataService/StreamQuotes", new { symbols = new[] { "NOPE" } });

        var (error, _) = await socket.ReceiveUntilAsync(f => f.Type() == "error");
        var status = error.GetProperty("status");
        Assert.Equal(5, status.GetProperty("code").GetInt32());
        var detail = Assert.Single(status.GetProperty("details").EnumerateArray());
        Assert.Equal("type.googleapis.com/google.rpc.ResourceInfo", detail.GetProperty("@type").GetString());
        Assert.Equal("NOPE", detail.GetProperty("resourceName").GetString());
        await AssertQuotesStillFlowAsync(socket);
    }

    [Fact]
    public async Task TooManySubscriptions_ResourceExhausted_OthersContinue()
    {
        var (socket, _) = await EdgeSocket.OpenAsync(stack.Edge);
        await using var __ = socket;
        for (var i = 0; i < 100; i++)
        {
            await socket.SubscribeAsync($"q{i}", "trading.v1.MarketDataService/StreamQuotes", new { symbols = new[] { "ACME" } });
        }

        await socket.SubscribeAsync("one-too-many", "trading.v1.MarketDataService/StreamQuotes", new { symbols = new[] { "ACME" } });

        var (error, _) = await socket.ReceiveUntilAsync(f => f.Type() == "error");
        Assert.Equal("one-too-many", error.Id());
        Assert.Equal(8, error.Code());
        await socket.ReceiveUntilAsync(f => f.Type() == "next" && f.Id() == "q99");
    }

    [Theory]
    [InlineData("not json at all")]
    [InlineData("{\"type\":\"teleport\"}")]
    [InlineData("{\"id\":\"no-type\"}")]
    [InlineData("{\"type\":\"subscribe\",\"method\":\"trading.v1.MarketDataService/StreamQuotes\"}")]
    [InlineData("{\"type\":\"subscribe\",\"id\":\"\",\"method\":\"trading.v1.MarketDataService/StreamQuotes\"}")]
    [InlineData("{\"type\":\"unsubscribe\"}")]
    [InlineData("42")]
    public async Task RejectedFrame_ErrorWithoutId_ConnectionContinues(string frame)
    {
        await using var socket = await OpenWithLiveQuotesAsync();

        await socket.SendTextAsync(frame);

        var (error, _) = await socket.ReceiveUntilAsync(f => f.Type() == "error");
        Assert.Null(error.Id());
        Assert.Equal(3, error.Code());
        await AssertQuotesStillFlowAsync(socket);
    }

    [Fact]
    public async Task UnsubscribeUnknownId_NotFound()
    {
        var (socket, _) = await EdgeSocket.OpenAsync(stack.Edge);
        await using var __ = socket;

        await socket.SendAsync(new { type = "unsubscribe", id = "never" });

        var error = await socket.ReceiveAsync();
        Assert.Equal("never", error.Id());
        Assert.Equal(5, error.Code());
    }

    [Theory]
    [InlineData(null)]
    [InlineData("graphql-ws")]
    public async Task UpgradeWithoutEdgeBridgeSubprotocol_400BeforeUpgrade(string? subprotocol)
    {
        Assert.Equal(HttpStatusCode.BadRequest, await EdgeSocket.RefusedStatusAsync(stack.Edge, subprotocol));
    }

    [Fact]
    public async Task PlainGetOnEndpoint_400WithStatusBody()
    {
        var (response, json) = await stack.SendAsync(HttpMethod.Get, "/ws");

        StatusAssert.IsRpcStatus(response, json, HttpStatusCode.BadRequest, 3);
    }

    [Fact]
    public async Task FirstFrameNotInit_Closed4401()
    {
        await using var socket = await EdgeSocket.ConnectAsync(stack.Edge);

        await socket.SubscribeAsync("early", "trading.v1.MarketDataService/StreamQuotes");

        Assert.Equal(4401, (int?)await socket.ReceiveCloseAsync());
    }

    private async Task<EdgeSocket> OpenWithLiveQuotesAsync()
    {
        var (socket, _) = await EdgeSocket.OpenAsync(stack.Edge);
        await socket.SubscribeAsync("live", "trading.v1.MarketDataService/StreamQuotes", new { symbols = new[] { "ACME", "HOOL", "STRK" } });
        await socket.ReceiveUntilAsync(f => f.Type() == "next" && f.Id() == "live");
        return socket;
    }

    private static async Task AssertQuotesStillFlowAsync(EdgeSocket socket)
    {
        // The live subscription keeps delivering after the error: the connection survived.
        for (var i = 0; i < 3; i++)
        {
            await socket.ReceiveUntilAsync(f => f.Type() == "next" && f.Id() == "live");
        }
    }
}
