using EdgeBridge.FunctionalTests.Common;
using OpenTelemetry;
using OpenTelemetry.Metrics;

namespace EdgeBridge.FunctionalTests.Operations;

/// <summary>The EdgeBridge meter through the host's OpenTelemetry pipeline, as an OTLP collector would receive it.</summary>
[Collection(nameof(MetricsRunAlone))]
public sealed class OpenTelemetryMetricsTests(OpenTelemetryMetricsTests.Fixture stack) : IClassFixture<OpenTelemetryMetricsTests.Fixture>
{
    [Fact]
    public async Task EdgeBridgeInstruments_ReachTheOpenTelemetryExporter_WithLiveValues()
    {
        var (socket, _) = await EdgeSocket.OpenAsync(stack.Edge);
        await using (socket)
        {
            await socket.SubscribeAsync("q", "trading.v1.MarketDataService/StreamQuotes", new { symbols = new[] { "ACME" } });
            await socket.ReceiveUntilAsync(f => f.Type() == "next");
            await socket.SendTextAsync("not json");
            await socket.ReceiveUntilAsync(f => f.Type() == "error");
            await stack.Rest.GetAsync("/v1/symbols");

        }

        // The REST duration is recorded once the response has been sent, which may be just after the client has
        // it: flush until it is there. (The host's Prometheus reader is pulled by scrapes, so the provider's flush
        // reports false for it; the in-memory exporter's flush is what counts here.)
        var provider = stack.Edge.Services.GetRequiredService<MeterProvider>();
        await Wait.UntilAsync(() =>
        {
            provider.ForceFlush(30_000);
            var metrics = stack.Metrics.ToList();
            return metrics.Any(m => m.Name == "edgebridge.websocket.connections")
                && metrics.Any(m => m.Name == "edgebridge.messages.delivered")
                && Sum(metrics, "edgebridge.frames.rejected") >= 1
                && metrics.Where(m => m.Name == "http.server.request.duration" && m.MetricType == MetricType.Histogram)
                    .SelectMany(m => m.MetricPoints).Sum(point => point.GetHistogramCount()) >= 1;
        }, "the EdgeBridge instruments reach the exporter with this test's measurements");
    }

    private static long Sum(List<MetricSnapshot> metrics, string name) => metrics
        .Where(m => m.Name == name)
        .SelectMany(m => m.MetricPoints.Select(point => m.MetricType is MetricType.LongSum or MetricType.LongSumNonMonotonic
            ? point.GetSumLong()
            : m.MetricType is MetricType.LongGauge ? point.GetGaugeLastValueLong() : (long)point.GetGaugeLastValueDouble()))
        .Sum();

    public sealed class Fixture : StackFixture
    {
        public List<MetricSnapshot> Metrics { get; } = [];

        public override Task InitializeAsync()
        {
            Edge.ConfigureServices = services => services.ConfigureOpenTelemetryMeterProvider(metrics => metrics.AddInMemoryExporter(Metrics));
            return base.InitializeAsync();
        }
    }
}
