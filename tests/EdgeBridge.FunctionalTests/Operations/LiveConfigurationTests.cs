using System.Net;
using System.Net.WebSockets;
using System.Text.Json.Nodes;
using EdgeBridge.FunctionalTests.Common;

namespace EdgeBridge.FunctionalTests.Operations;

/// <summary>Routes and limits change in appsettings.json while clients stay connected.</summary>
public sealed class LiveConfigurationTests : IAsyncLifetime
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "edgebridge-live-" + Guid.NewGuid().ToString("N"));
    private readonly StackFixture _stack = new();

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_root);
        File.Copy(Path.Combine(AppContext.BaseDirectory, "hosts", "edge", "appsettings.json"), Path.Combine(_root, "appsettings.json"));
        _stack.Edge.ContentRoot = _root;
        await _stack.InitializeAsync();
    }

    public async Task DisposeAsync()
    {
        await _stack.DisposeAsync();
        Directory.Delete(_root, recursive: true);
    }

    [Fact]
    public async Task EditedAppSettings_NewRouteAndTighterLimitApply_ExistingSocketKeepsStreaming()
    {
        var (before, _) = await EdgeSocket.OpenAsync(_stack.Edge);
        await using var _1 = before;
        await before.SubscribeAsync("a", "trading.v1.MarketDataService/StreamQuotes", new { symbols = new[] { "ACME" } });
        await before.SubscribeAsync("b", "trading.v1.MarketDataService/StreamQuotes", new { symbols = new[] { "HOOL" } });
        await before.ReceiveUntilAsync(f => f.Type() == "next" && f.Id() == "b");
        Assert.Equal(HttpStatusCode.NotFound, (await _stack.Rest.GetAsync("/alias/v1/symbols")).StatusCode);

        var path = Path.Combine(_root, "appsettings.json");
        var settings = JsonNode.Parse(await File.ReadAllTextAsync(path))!;
        settings["EdgeBridge"]!["WebSockets"]!["MaxSubscriptionsPerConnection"] = 1;
        settings["ReverseProxy"]!["Routes"]!["alias"] = JsonNode.Parse("""
            { "ClusterId": "backend-rest", "Match": { "Path": "/alias/v1/{**path}" }, "Transforms": [ { "PathRemovePrefix": "/alias" } ] }
            """);
        await File.WriteAllTextAsync(path, settings.ToJsonString());

        await Wait.UntilAsync(async () => (await _stack.Rest.GetAsync("/alias/v1/symbols")).StatusCode == HttpStatusCode.OK, "the new route is live");
        var (after, _) = await EdgeSocket.OpenAsync(_stack.Edge);
        await using var _2 = after;
        await after.SubscribeAsync("a", "trading.v1.MarketDataService/StreamQuotes", new { symbols = new[] { "ACME" } });
        await after.SubscribeAsync("b", "trading.v1.MarketDataService/StreamQuotes", new { symbols = new[] { "HOOL" } });
        var (refused, _) = await after.ReceiveUntilAsync(f => f.Type() == "error");

        Assert.Equal(("b", 8), (refused.Id(), refused.Code()));
        await before.ReceiveUntilAsync(f => f.Type() == "next" && f.Id() == "b");
        Assert.Equal(WebSocketState.Open, before.State);
    }
}
