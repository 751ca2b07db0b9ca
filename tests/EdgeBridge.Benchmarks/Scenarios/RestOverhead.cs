using System.Diagnostics;
using System.Globalization;
using System.Text;
using EdgeBridge.Benchmarks.Load;
using EdgeBridge.Benchmarks.Report;
using Grpc.Net.Client;
using Trading.V1;

namespace EdgeBridge.Benchmarks.Scenarios;

internal sealed record RestResult(string Target, int Round, long Requests, double RequestsPerSecond, int P50Micros, int P99Micros, double EdgeCpuMicros, double BackendCpuMicros);

/// <summary>
/// What the edge adds to a REST call: GET /v1/quotes/{symbol} through the edge against the same request straight
/// to the backend's REST port and the same read as a direct gRPC call (and through the edge's gRPC port), closed
/// loop with a fixed number of concurrent callers, targets interleaved per round.
/// </summary>
internal static class RestOverhead
{
    public static async Task<List<RestResult>> RunAsync(Options options)
    {
        var concurrency = options.RestConcurrency;
        var results = new List<RestResult>();
        await using var backend = await Harness.StartBackendAsync(TimeSpan.FromMilliseconds(100));
        await using var edge = await Harness.StartSystemAsync("edgebridge", backend);
        var targets = new (string Name, Func<Func<Task>> Caller)[]
        {
            ("REST via edge", () => Rest($"http://127.0.0.1:{edge.Port}", concurrency)),
            ("REST direct", () => Rest($"http://127.0.0.1:{backend.RestPort}", concurrency)),
            ("gRPC direct", () => Grpc($"http://127.0.0.1:{backend.GrpcPort}")),
            ("gRPC via edge", () => Grpc($"http://127.0.0.1:{edge.GrpcPort}")),
        };
        // Round 0 warms every path up (tiered JIT, connection pools) and is not reported.
        for (var round = options.Smoke ? 1 : 0; round <= options.Rounds; round++)
        {
            foreach (var (name, caller) in targets)
            {
                var result = await MeasureAsync(name, round, caller(), concurrency, options, edge.Process.Id, backend.Process.Id);
                if (round == 0)
                {
                    continue;
                }

                results.Add(result);
                Console.Error.WriteLine($"rest round {round} {name,-14}: {result.RequestsPerSecond,8:N0} req/s  p50 {result.P50Micros / 1000.0:N2} ms  p99 {result.P99Micros / 1000.0:N2} ms");
            }
        }

        return results;
    }

    private static Func<Task> Rest(string address, int concurrency)
    {
        var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = concurrency }) { BaseAddress = new Uri(address) };
        return async () =>
        {
            using var response = await http.GetAsync("/v1/quotes/AAA");
            response.EnsureSuccessStatusCode();
            await response.Content.ReadAsByteArrayAsync();
        };
    }

    private static Func<Task> Grpc(string address)
    {
        var channel = GrpcChannel.ForAddress(address, new GrpcChannelOptions { HttpHandler = new SocketsHttpHandler { EnableMultipleHttp2Connections = true } });
        var client = new MarketDataService.MarketDataServiceClient(channel);
        return async () => await client.GetQuoteAsync(new GetQuoteRequest { Symbol = "AAA" });
    }

    private static async Task<RestResult> MeasureAsync(string target, int round, Func<Task> call, int concurrency, Options options, int edgePid, int backendPid)
    {
        using var stop = new CancellationTokenSource();
        var recording = false;
        var latencies = new Latencies();
        var workers = Enumerable.Range(0, concurrency).Select(_ => Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                var started = Stopwatch.GetTimestamp();
                await call();
                if (Volatile.Read(ref recording))
                {
                    latencies.Record(Stopwatch.GetElapsedTime(started));
                }
            }
        })).ToList();

        await Task.Delay(options.Warmup);
        var edgeBefore = ProcessStats.Read(edgePid);
        var backendBefore = ProcessStats.Read(backendPid);
        Volatile.Write(ref recording, true);
        var clock = Stopwatch.StartNew();
        await Task.Delay(options.Measure);
        Volatile.Write(ref recording, false);
        var elapsed = clock.Elapsed;
        var edgeAfter = ProcessStats.Read(edgePid);
        var backendAfter = ProcessStats.Read(backendPid);
        await stop.CancelAsync();
        await Task.WhenAll(workers);

        var requests = latencies.Count;
        return new RestResult(target, round, requests, requests / elapsed.TotalSeconds, latencies.Percentile(50), latencies.Percentile(99),
            requests == 0 ? 0 : (edgeAfter.Cpu - edgeBefore.Cpu).TotalMicroseconds / requests,
            requests == 0 ? 0 : (backendAfter.Cpu - backendBefore.Cpu).TotalMicroseconds / requests);
    }

    /// <summary>Medians over rounds per target.</summary>
    public static List<RestResult> Medians(List<RestResult> results) => results.GroupBy(r => r.Target).Select(g => new RestResult(g.Key, 0, (long)Harness.Median(g.Select(r => (double)r.Requests)),
        Harness.Median(g.Select(r => r.RequestsPerSecond)), (int)Harness.Median(g.Select(r => (double)r.P50Micros)), (int)Harness.Median(g.Select(r => (double)r.P99Micros)),
        Harness.Median(g.Select(r => r.EdgeCpuMicros)), Harness.Median(g.Select(r => r.BackendCpuMicros)))).ToList();

    public static string Svg(List<RestResult> results, Options options) => Chart.Bars($"Requests per second, {options.RestConcurrency} concurrent callers (median)", "longer is better",
        [.. Medians(results).Select(m => new Bar(m.Target, m.Target.Contains("via edge", StringComparison.Ordinal) ? "edgebridge" : "direct", m.RequestsPerSecond,
            m.RequestsPerSecond.ToString("N0", CultureInfo.InvariantCulture)))]);

    public static string Markdown(List<RestResult> results, Options options, string chart)
    {
        var medians = Medians(results);
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"## REST through the edge versus direct ({options.RestConcurrency} concurrent callers, closed loop)").AppendLine();
        text.AppendLine("`GET /v1/quotes/AAA` (JSON transcoded by the backend) through the edge and straight to the backend, and `GetQuote` as gRPC, " +
            "directly and through the edge's gRPC port. Medians over rounds; CPU per request is each process's user+system time.").AppendLine();
        text.AppendLine(CultureInfo.InvariantCulture, $"![Requests per second]({chart})").AppendLine();
        text.AppendLine("| target | req/s | p50 ms | p99 ms | edge CPU µs/req | backend CPU µs/req |");
        text.AppendLine("|---|---|---|---|---|---|");
        foreach (var m in medians)
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"| {m.Target} | {m.RequestsPerSecond:N0} | {m.P50Micros / 1000.0:N2} | {m.P99Micros / 1000.0:N2} | {m.EdgeCpuMicros:N1} | {m.BackendCpuMicros:N1} |");
        }

        var edge = medians.FirstOrDefault(m => m.Target == "REST via edge");
        var direct = medians.FirstOrDefault(m => m.Target == "REST direct");
        var grpc = medians.FirstOrDefault(m => m.Target == "gRPC direct");
        if (edge is not null && direct is not null && grpc is not null)
        {
            text.AppendLine().AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"The edge adds {(edge.P50Micros - direct.P50Micros) / 1000.0:N2} ms at p50 and {(edge.P99Micros - direct.P99Micros) / 1000.0:N2} ms at p99 to a direct REST call, " +
                $"at {FanOut.Ratio(edge.RequestsPerSecond, direct.RequestsPerSecond)}× its throughput ({FanOut.Ratio(edge.RequestsPerSecond, grpc.RequestsPerSecond)}× that of direct gRPC). " +
                $"Edge and backend share the same two cores here, so the edge's own work also slows the backend it waits for."));
        }

        return text.AppendLine().ToString();
    }
}
