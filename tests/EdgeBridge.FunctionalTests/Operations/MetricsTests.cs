using System.Globalization;
using EdgeBridge.FunctionalTests.Common;

namespace EdgeBridge.FunctionalTests.Operations;

/// <summary>
/// OpenTelemetry merges the instruments of every meter with the same name in a process, and test hosts all name
/// theirs EdgeBridge: the metric tests run alone, so that the only edge measured is their own.
/// </summary>
[CollectionDefinition(nameof(MetricsRunAlone), DisableParallelization = true)]
public sealed class MetricsRunAlone;

/// <summary>/metrics in Prometheus text (OpenTelemetry's exporter): what an operator graphs, moving with real traffic.</summary>
[Collection(nameof(MetricsRunAlone))]
public sealed class MetricsTests(StackFixture stack) : IClassFixture<StackFixture>
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

        // ASP.NET Core records a request's duration once its response is done, which may be just after the client has it.
        var text = "";
        await Wait.UntilAsync(async () => Value(text = await stack.Rest.GetStringAsync("/metrics"), "http_server_request_duration_seconds_count",
            ("http_route", "/v1/symbols"), ("http_response_status_code", "200")) >= 1, "the REST request's duration is recorded");

        Assert.Contains("# TYPE edgebridge_websocket_connections gauge", text);
        Assert.Equal(3, Value(text, "edgebridge_websocket_connections"));
        Assert.Equal(3, Value(text, "edgebridge_subscriptions_active", ("method", "trading.v1.MarketDataService/StreamQuotes")));
        Assert.Equal(3, Value(text, "edgebridge_fanout_ratio"));
        Assert.True(Value(text, "edgebridge_messages_delivered_total") >= 3, text);
        Assert.True(Value(text, "edgebridge_bytes_sent_bytes_total") > 0, text);
        Assert.True(Value(text, "edgebridge_bytes_received_bytes_total") > 0, text);
        Assert.True(Value(text, "edgebridge_frames_rejected_total", ("reason", "malformed")) >= 1, text);
        Assert.True(Value(text, "edgebridge_upstream_calls_total", ("method", "trading.v1.MarketDataService/StreamQuotes")) >= 1, text);

        foreach (var socket in sockets)
        {
            await socket.DisposeAsync();
        }

        await Wait.UntilAsync(async () => Value(await stack.Rest.GetStringAsync("/metrics"), "edgebridge_websocket_connections") == 0, "the connection gauge falls back");
    }

    [Fact]
    public async Task Metrics_OnlyOnOperationsListeners()
    {
        using var grpcPort = new HttpClient(new SocketsHttpHandler()) { BaseAddress = new Uri(stack.Edge.GrpcAddress), DefaultRequestVersion = System.Net.HttpVersion.Version20, DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact };

        using var response = await grpcPort.GetAsync("/metrics");

        Assert.Equal(System.Net.HttpStatusCode.NotFound, response.StatusCode);
    }

    /// <summary>The value of the first series of <paramref name="name"/> whose labels include <paramref name="labels"/>.</summary>
    private static double Value(string text, string name, params (string Name, string Value)[] labels)
    {
        foreach (var line in text.Split('\n'))
        {
            if (!line.StartsWith(name, StringComparison.Ordinal) || line.Length == name.Length || line[name.Length] is not ('{' or ' '))
            {
                continue;
            }

            var space = line.LastIndexOf(' ');
            var series = line[..space];
            if (labels.All(label => series.Contains($"{label.Name}=\"{label.Value}\"", StringComparison.Ordinal)))
            {
                return double.Parse(line[(space + 1)..], CultureInfo.InvariantCulture);
            }
        }

        return double.NaN;
    }
}
