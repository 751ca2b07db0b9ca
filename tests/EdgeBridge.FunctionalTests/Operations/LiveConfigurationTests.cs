using System.Net;
using System.Net.WebSockets;
using System.Text.Json.Nodes;
using EdgeBridge.FunctionalTests.Common;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace EdgeBridge.FunctionalTests.Operations;

/// <summary>Routes and limits change in appsettings.json while clients stay connected.</summary>
public sealed class LiveConfigurationTests : IAsyncLifetime
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "edgebridge-live-" + Guid.NewGuid().ToString("N"));
    private readonly StackFixture _stack = new();
    private readonly LogCollector _logs = new();

    private string SettingsPath => Path.Combine(_root, "appsettings.json");

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_root);
        File.Copy(Path.Combine(AppContext.BaseDirectory, "hosts", "edge", "appsettings.json"), SettingsPath);
        _stack.Edge.ContentRoot = _root;
        _stack.Edge.ConfigureServices = services => services.AddSingleton<ILoggerProvider>(_logs);
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

    [Fact]
    public async Task InvalidEdit_IsRejectedAndLogged_EdgeKeepsItsPreviousValues_NextValidEditApplies()
    {
        await EditAsync(settings => settings["EdgeBridge"]!["WebSockets"]!["MaxSubscriptionsPerConnection"] = 0);

        LogEntry? rejected = null;
        await Wait.UntilAsync(() => (rejected = _logs.Entries.FirstOrDefault(e => e.EventId.Name == "ConfigurationReloadRejected")) is not null,
            "the reload is rejected");
        Assert.Equal(LogLevel.Error, rejected!.Level);
        Assert.Contains("EdgeBridge:WebSockets:MaxSubscriptionsPerConnection must be greater than 0", rejected.Message, StringComparison.Ordinal);

        // REST, new sockets and their subscriptions all still run on the values from before the edit.
        Assert.Equal(HttpStatusCode.OK, (await _stack.Rest.GetAsync("/v1/symbols")).StatusCode);
        var (during, _) = await EdgeSocket.OpenAsync(_stack.Edge);
        await using var _1 = during;
        await during.SubscribeAsync("a", "trading.v1.MarketDataService/StreamQuotes", new { symbols = new[] { "ACME" } });
        await during.SubscribeAsync("b", "trading.v1.MarketDataService/StreamQuotes", new { symbols = new[] { "HOOL" } });
        await during.ReceiveUntilAsync(f => f.Type() == "next" && f.Id() == "b");

        await EditAsync(settings => settings["EdgeBridge"]!["WebSockets"]!["MaxSubscriptionsPerConnection"] = 1);

        await Wait.UntilAsync(async () =>
        {
            var (after, _) = await EdgeSocket.OpenAsync(_stack.Edge);
            await using var _2 = after;
            await after.SubscribeAsync("a", "trading.v1.MarketDataService/StreamQuotes", new { symbols = new[] { "ACME" } });
            await after.SubscribeAsync("b", "trading.v1.MarketDataService/StreamQuotes", new { symbols = new[] { "HOOL" } });
            var (answer, _) = await after.ReceiveUntilAsync(f => f.Id() == "b" && f.Type() is "next" or "error");
            return answer.Type() == "error" && answer.Code() == 8;
        }, "the valid edit after the rejected one applies");
        Assert.Equal(WebSocketState.Open, during.State);
    }

    private async Task EditAsync(Action<JsonNode> edit)
    {
        var settings = JsonNode.Parse(await File.ReadAllTextAsync(SettingsPath))!;
        edit(settings);
        await File.WriteAllTextAsync(SettingsPath, settings.ToJsonString());
    }
}
