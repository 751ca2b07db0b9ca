using EdgeBridge.FunctionalTests.Common;

namespace EdgeBridge.FunctionalTests.WebSockets;

/// <summary>An edge that forwards one metadata key of a subscription, and holds a subscription's metadata small.</summary>
public sealed class ForwardedMetadataFixture : StackFixture
{
    protected override IDictionary<string, string?> EdgeSettings => new Dictionary<string, string?>
    {
        ["EdgeBridge:WebSockets:ForwardedMetadata:0"] = "x-request-id",
        ["EdgeBridge:WebSockets:MaxMetadataBytes"] = "128",
    };
}

/// <summary>
/// A subscription's own metadata reaches its upstream call when the edge forwards the key; anything else is refused
/// for that subscription alone, and never replaces what the edge sets from the token.
/// </summary>
public sealed class SubscriptionMetadataTests(ForwardedMetadataFixture stack) : IClassFixture<ForwardedMetadataFixture>
{
    private const string Orders = "trading.v1.TradingService/StreamOrderUpdates";

    [Fact]
    public async Task ForwardedKey_ReachesTheBackend_BesideTheCallersToken()
    {
        var alice = await stack.LoginAsync();
        var (socket, _) = await EdgeSocket.OpenAsync(stack.Edge, alice.Token);
        await using var __ = socket;
        var requestId = Guid.NewGuid().ToString("N");

        await socket.SendAsync(new { type = "subscribe", id = "o", method = Orders, request = new { accountId = alice.AccountId }, metadata = new Dictionary<string, string> { ["X-Request-Id"] = requestId } });

        await Wait.UntilAsync(() => stack.Backend.Calls.StreamCalls.Any(c => c.Headers.GetValue("x-request-id") == requestId), "the backend sees the request id");
        var seen = stack.Backend.Calls.StreamCalls.First(c => c.Headers.GetValue("x-request-id") == requestId).Headers;
        Assert.Equal("Bearer " + alice.Token, seen.GetValue("authorization"));
    }

    [Theory]
    [InlineData("x-tenant", "is not forwarded by this edge")]
    [InlineData("authorization", "is set by the edge or by gRPC itself")]
    [InlineData("x-edgebridge-user", "is set by the edge or by gRPC itself")]
    [InlineData("grpc-timeout", "is set by the edge or by gRPC itself")]
    public async Task KeyTheEdgeDoesNotForward_InvalidArgument_ForThatSubscriptionOnly(string key, string problem)
    {
        var alice = await stack.LoginAsync();
        var (socket, _) = await EdgeSocket.OpenAsync(stack.Edge, alice.Token);
        await using var __ = socket;
        await SubscribeLiveQuotesAsync(socket);

        await socket.SendAsync(new { type = "subscribe", id = "o", method = Orders, request = new { accountId = alice.AccountId }, metadata = new Dictionary<string, string> { [key] = "bob" } });

        var (error, _) = await socket.ReceiveUntilAsync(f => f.Type() == "error" && f.Id() == "o");
        Assert.Equal(3, error.Code());
        Assert.Contains(problem, error.GetProperty("status").GetProperty("message").GetString());
        await socket.ReceiveUntilAsync(f => f.Type() == "next" && f.Id() == "live");
    }

    [Theory]
    [InlineData("{\"x-request-id\":5}", "must be a JSON object of string values")]
    [InlineData("[\"x-request-id\"]", "must be a JSON object of string values")]
    [InlineData("{\"x-request-id\":\"caf\u00e9\"}", "must be printable ASCII")]
    [InlineData("{\"x-request-id\":\"0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789\"}", "larger than this edge's limit of 128 bytes")]
    public async Task MalformedOrOversizedMetadata_InvalidArgument(string metadata, string problem)
    {
        var alice = await stack.LoginAsync();
        var (socket, _) = await EdgeSocket.OpenAsync(stack.Edge, alice.Token);
        await using var __ = socket;

        await socket.SendTextAsync($"{{\"type\":\"subscribe\",\"id\":\"o\",\"method\":\"{Orders}\",\"request\":{{\"accountId\":\"{alice.AccountId}\"}},\"metadata\":{metadata}}}");

        var (error, _) = await socket.ReceiveUntilAsync(f => f.Type() == "error" && f.Id() == "o");
        Assert.Equal(3, error.Code());
        Assert.Contains(problem, error.GetProperty("status").GetProperty("message").GetString());
    }

    [Fact]
    public async Task SharedMethod_TakesNoPerSubscriptionMetadata()
    {
        var (socket, _) = await EdgeSocket.OpenAsync(stack.Edge);
        await using var __ = socket;

        await socket.SendAsync(new { type = "subscribe", id = "q", method = "trading.v1.MarketDataService/StreamQuotes", request = new { symbols = new[] { "ACME" } }, metadata = new Dictionary<string, string> { ["x-request-id"] = "r1" } });

        var (error, _) = await socket.ReceiveUntilAsync(f => f.Type() == "error" && f.Id() == "q");
        Assert.Equal(3, error.Code());
        Assert.Contains("takes no per-subscription metadata", error.GetProperty("status").GetProperty("message").GetString());
    }

    private static async Task SubscribeLiveQuotesAsync(EdgeSocket socket)
    {
        await socket.SubscribeAsync("live", "trading.v1.MarketDataService/StreamQuotes", new { symbols = new[] { "ACME", "HOOL", "STRK" } });
        await socket.ReceiveUntilAsync(f => f.Type() == "next" && f.Id() == "live");
    }
}
