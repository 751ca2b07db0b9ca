using System.Net;
using System.Text.Json;
using EdgeBridge.FunctionalTests.Common;

namespace EdgeBridge.FunctionalTests.Rpc;

/// <summary>An edge with the Connect and gRPC-Web endpoint switched off.</summary>
public sealed class RpcDisabledFixture : StackFixture
{
    protected override IDictionary<string, string?> EdgeSettings => new Dictionary<string, string?> { ["EdgeBridge:Rpc:Enabled"] = "false" };
}

/// <summary>With <c>EdgeBridge:Rpc:Enabled</c> false the methods are not served over Connect, and the documents do not offer them.</summary>
public sealed class RpcDisabledTests(RpcDisabledFixture stack) : IClassFixture<RpcDisabledFixture>
{
    [Fact]
    public async Task Disabled_NoConnectEndpoint_NoConnectOperations()
    {
        using var request = RpcWire.Connect("/trading.v1.MarketDataService/GetQuote", """{"symbol":"ACME"}""");
        using var response = await stack.Rest.SendAsync(request);
        var openApi = await stack.Rest.GetStringAsync("/openapi/v1.json");
        using var quote = await stack.Rest.GetAsync("/v1/quotes/ACME");

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal(5, JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("code").GetInt32());
        Assert.DoesNotContain("_Connect", openApi, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, quote.StatusCode);
    }
}
