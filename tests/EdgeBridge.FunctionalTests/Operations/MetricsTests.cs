using System.Globalization;
using System.Text.RegularExpressions;
using EdgeBridge.FunctionalTests.Common;

namespace EdgeBridge.FunctionalTests.Operations;

/// <summary>/metrics in Prometheus text: what an operator graphs, moving with real traffic.</summary>
public sealed partial class MetricsTests(StackFixture stack) : IClassFixture<StackFixture>
{
    [Fact]
    public async Task Metrics_ReflectConnectionsSubscriptionsFanOutAndRest()
    {
        var sockets = new List<EdgeSocket>();
        for (var i = 0; i < 3; i++)
        {
            var (socket, _) = await EdgeSocket.OpenAsync(stack.Edge);
            await socket.SubscribeAsync("q", "trading.v1.MarketDataService/StreamQuotes", new { symbols = new[] { "GLBX" } });
            await socket.ReceiveUntilAsync(f => f.Type() == "next");
            sockets.Add(socket);
        }

        await sockets[0].SendTextAsync("not json");
        await sockets[0].ReceiveUntilAsync(f => f.Type() == "error");
        await stack.Rest.GetAsync("/v1/symbols");

        var text = await stack.Rest.GetStringAsync("/metrics");

        Assert.Contains("# TYPE edgebridge_websocket_connections gauge", text);
        Assert.True(Value(text, "edgebridge_websocket_connections") >= 3, text);
        Assert.True(Value(text, "edgebridge_subscriptions_active{method=\"trading.v1.MarketDataService/StreamQuotes\"}") >= 3, text);
        Assert.True(Value(text, "edgebridge_fanout_ratio") >= 3, text);
        Assert.True(Value(text, "edgebridge_messages_delivered_total") >= 3, text);
        Assert.True(Value(text, "edgebridge_bytes_sent_bytes_total") > 0, text);
        Assert.True(Value(text, "edgebridge_bytes_received_bytes_total") > 0, text);
        Assert.True(Value(text, "edgebridge_frames_rejected_total{reason=\"malformed\"}") >= 1, text);
        Assert.True(Value(text, "edgebridge_upstream_calls_total{method=\"trading.v1.MarketDataService/StreamQuotes\"}") >= 1, text);
        Assert.Contains("edgebridge_rest_duration_seconds_bucket{method=\"GET\",status=\"200\",le=\"+Inf\"}", text);

        foreach (var socket in sockets)
        {
            await socket.DisposeAsync();
        }

        await Wait.UntilAsync(async () => Value(await stack.Rest.GetStringAsync("/metrics"), "edgebridge_websocket_connections") == 0, "the connection gauge falls back");
    }

    private static double Value(string text, string series)
    {
        var line = text.Split('\n').FirstOrDefault(l => l.StartsWith(series + " ", StringComparison.Ordinal));
        return line is null ? double.NaN : double.Parse(line[(series.Length + 1)..], CultureInfo.InvariantCulture);
    }
}
