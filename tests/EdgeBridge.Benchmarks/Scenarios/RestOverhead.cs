using System.Diagnostics;
using System.Globalization;
using System.Text;
using EdgeBridge.Benchmarks.Load;
using EdgeBridge.Benchmarks.Report;
using Google.Protobuf;
using Grpc.Net.Client;
using Trading.V1;

namespace EdgeBridge.Benchmarks.Scenarios;

internal sealed record RestResult(string Target, int Round, long Requests, double RequestsPerSecond, int P50Micros, int P99Micros, double ProxyCpuMicros, double BackendCpuMicros);

internal sealed record ColdStartResult(string System, int Round, double FirstWindowPerSecond, double SteadyPerSecond);

internal sealed record RestOverheadResults(List<RestResult> Steady, List<RestResult> SameRate, List<ColdStartResult> Cold);

/// <summary>
/// What the edge adds to a REST call, next to the peer a team would pick instead — a plain YARP hop
/// (<c>Systems.PlainYarp</c>) with the same routes — and to no proxy at all: <c>GET /v1/quotes/{symbol}</c> through
/// each, and the same read as gRPC. Closed loop with a fixed number of concurrent callers, targets interleaved per
/// round. The proxies run on core 1, the backend and the load generator on core 0, so that each proxy's work is
/// measured alone and a proxy that costs more cannot slow the backend it waits for. Then every target again at one
/// fixed request rate (open loop): in a closed loop the backend's CPU per request follows the rate the proxy lets
/// through (an idle thread pool spins before it sleeps), so only at the same rate does it say what a proxy costs the
/// backend. Then cold start: a fresh proxy process, loaded from the moment it listens.
/// </summary>
internal static class RestOverhead
{
    private const string ProxyCpus = "1";
    private const string RestCpus = "0";

    public static async Task<RestOverheadResults> RunAsync(Options options)
    {
        var concurrency = options.RestConcurrency;
        var results = new List<RestResult>();
        var sameRate = new List<RestResult>();
        var pinned = Harness.PinSelf(RestCpus);
        var (proxyCpus, restCpus) = pinned ? (ProxyCpus, RestCpus) : ((string?)null, (string?)null);
        try
        {
            await using var backend = await Harness.StartBackendAsync(TimeSpan.FromMilliseconds(100), cpus: restCpus);
            await using (var edge = await Harness.StartSystemAsync("edgebridge", backend, proxyCpus))
            await using (var yarp = await Harness.StartSystemAsync("yarp", backend, proxyCpus))
            {
                var targets = new (string Name, SystemUnderTest? Proxy, Func<Func<Task>> Caller)[]
                {
                    ("REST via edge", edge, () => Rest($"http://127.0.0.1:{edge.Port}", concurrency)),
                    ("REST via YARP", yarp, () => Rest($"http://127.0.0.1:{yarp.Port}", concurrency)),
                    ("REST direct", null, () => Rest($"http://127.0.0.1:{backend.RestPort}", concurrency)),
                    ("gRPC via edge", edge, () => Grpc($"http://127.0.0.1:{edge.GrpcPort}")),
                    ("gRPC via YARP", yarp, () => Grpc($"http://127.0.0.1:{yarp.GrpcPort}")),
                    ("gRPC direct", null, () => Grpc($"http://127.0.0.1:{backend.GrpcPort}")),
                    // The same read for clients that speak Connect or gRPC-Web: translated by the edge to its gRPC call.
                    ("Connect via edge", edge, () => Rpc($"http://127.0.0.1:{edge.Port}", concurrency, grpcWeb: false)),
                    ("gRPC-Web via edge", edge, () => Rpc($"http://127.0.0.1:{edge.Port}", concurrency, grpcWeb: true)),
                };

                // A proxy on one busy core reaches its steady rate only once the JIT has optimized its hot code,
                // which takes YARP's defaults tens of seconds (docs/benchmarks.md, cold start): each proxy is loaded
                // for a while first, then round 0 warms every path up (connection pools) and is not reported.
                foreach (var (name, proxy, caller) in targets.Where(t => t.Proxy is not null))
                {
                    await MeasureAsync(name, 0, caller(), concurrency, TimeSpan.Zero, options.Smoke ? TimeSpan.FromSeconds(1) : TimeSpan.FromSeconds(45), proxy!.Process.Id, backend.Process.Id);
                }

                for (var round = options.Smoke ? 1 : 0; round <= options.Rounds; round++)
                {
                    foreach (var (name, proxy, caller) in targets)
                    {
                        var result = await MeasureAsync(name, round, caller(), concurrency, options.Warmup, options.Measure, proxy?.Process.Id, backend.Process.Id);
                        if (round == 0)
                        {
                            continue;
                        }

                        results.Add(result);
                        Console.Error.WriteLine($"rest round {round} {name,-14}: {result.RequestsPerSecond,8:N0} req/s  proxy {result.ProxyCpuMicros,6:N1} µs/req  backend {result.BackendCpuMicros,6:N1} µs/req");
                    }
                }

                // Half the slower proxy's closed-loop rate, per protocol: every target can serve it with room to spare.
                var steadyMedians = Medians(results);
                double Rate(string protocol) => 0.5 * steadyMedians.Where(m => ProtocolOf(m.Target) == protocol && !m.Target.EndsWith("direct", StringComparison.Ordinal))
                    .Min(m => m.RequestsPerSecond);
                for (var round = 1; round <= options.Rounds; round++)
                {
                    foreach (var (name, proxy, caller) in targets)
                    {
                        var rate = Rate(ProtocolOf(name));
                        var result = await MeasureAtRateAsync(name, round, caller(), rate, options.Warmup, options.Measure, proxy?.Process.Id, backend.Process.Id);
                        sameRate.Add(result);
                        Console.Error.WriteLine($"rest same rate round {round} {name,-14}: {result.RequestsPerSecond,8:N0} of {rate,8:N0} req/s  proxy {result.ProxyCpuMicros,6:N1} µs/req  backend {result.BackendCpuMicros,6:N1} µs/req");
                    }
                }
            }

            var cold = new List<ColdStartResult>();
            var medians = Medians(results);
            for (var round = 1; round <= options.Rounds; round++)
            {
                foreach (var (system, target) in new[] { ("edgebridge", "REST via edge"), ("yarp", "REST via YARP") })
                {
                    var steady = medians.First(m => m.Target == target).RequestsPerSecond;
                    var result = await ColdStartAsync(system, round, backend, concurrency, options, proxyCpus, steady);
                    cold.Add(result);
                    Console.Error.WriteLine($"cold round {round} {system,-10}: first window {result.FirstWindowPerSecond,8:N0} req/s, steady {result.SteadyPerSecond,8:N0} req/s");
                }
            }

            return new RestOverheadResults(results, sameRate, cold);
        }
        finally
        {
            if (pinned)
            {
                Harness.PinSelf(null);
            }
        }
    }

    /// <summary>
    /// A fresh proxy, loaded from the moment it listens: its first window against the steady rate of the same
    /// proxy in the long-running measurement above (a few seconds after a start it is not steady yet).
    /// </summary>
    private static async Task<ColdStartResult> ColdStartAsync(string system, int round, Backend backend, int concurrency, Options options, string? cpus, double steady)
    {
        await using var proxy = await Harness.StartSystemAsync(system, backend, cpus);
        var first = await MeasureAsync(system, round, Rest($"http://127.0.0.1:{proxy.Port}", concurrency), concurrency, TimeSpan.Zero, ColdWindow(options), proxy.Process.Id, backend.Process.Id);
        return new ColdStartResult(system, round, first.RequestsPerSecond, steady);
    }

    /// <summary>The <c>load</c> command: REST load on a system started by hand (under <c>perf</c>, say).</summary>
    public static async Task<int> LoadAsync(string address, IReadOnlyDictionary<string, string> settings)
    {
        int Setting(string name, int otherwise) => settings.TryGetValue(name, out var value) ? int.Parse(value, CultureInfo.InvariantCulture) : otherwise;
        var concurrency = Setting("concurrency", 32);
        var pid = Setting("pid", 0);
        using var probe = new HttpClient { BaseAddress = new Uri(address) };
        async Task<long> Allocated() => long.Parse(await probe.GetStringAsync("/_bench/allocated"), CultureInfo.InvariantCulture);
        var allocatedBefore = await Allocated();
        var result = await MeasureAsync("load", 0, Rest(address, concurrency), concurrency, TimeSpan.Zero, TimeSpan.FromSeconds(Setting("seconds", 20)),
            pid == 0 ? null : pid, Environment.ProcessId);
        var allocated = (await Allocated() - allocatedBefore) / (double)Math.Max(1, result.Requests);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{result.RequestsPerSecond:F0} req/s, p50 {result.P50Micros / 1000.0:F2} ms, p99 {result.P99Micros / 1000.0:F2} ms, proxy CPU {result.ProxyCpuMicros:F1} µs/req, {allocated:F0} B allocated/req"));
        return 0;
    }

    private static TimeSpan ColdWindow(Options options) => options.Smoke ? TimeSpan.FromSeconds(2) : TimeSpan.FromSeconds(10);

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

    /// <summary>"REST via edge" → "REST": targets of one protocol share a rate.</summary>
    private static string ProtocolOf(string target) => target[..target.IndexOf(' ', StringComparison.Ordinal)];

    private static Func<Task> Rpc(string address, int concurrency, bool grpcWeb)
    {
        var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = concurrency }) { BaseAddress = new Uri(address) };
        var body = grpcWeb ? Envelope(new GetQuoteRequest { Symbol = "AAA" }.ToByteArray()) : "{\"symbol\":\"AAA\"}"u8.ToArray();
        var contentType = grpcWeb ? "application/grpc-web+proto" : "application/json";
        return async () =>
        {
            using var content = new ByteArrayContent(body);
            content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue(contentType);
            using var response = await http.PostAsync("/trading.v1.MarketDataService/GetQuote", content);
            response.EnsureSuccessStatusCode();
            await response.Content.ReadAsByteArrayAsync();
        };
    }

    private static byte[] Envelope(byte[] message)
    {
        var frame = new byte[5 + message.Length];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(1), (uint)message.Length);
        message.CopyTo(frame, 5);
        return frame;
    }

    private static Func<Task> Grpc(string address)
    {
        var channel = GrpcChannel.ForAddress(address, new GrpcChannelOptions { HttpHandler = new SocketsHttpHandler { EnableMultipleHttp2Connections = true } });
        var client = new MarketDataService.MarketDataServiceClient(channel);
        return async () => await client.GetQuoteAsync(new GetQuoteRequest { Symbol = "AAA" });
    }

    private static async Task<RestResult> MeasureAsync(string target, int round, Func<Task> call, int concurrency, TimeSpan warmup, TimeSpan measure, int? proxyPid, int backendPid)
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

        if (warmup > TimeSpan.Zero)
        {
            await Task.Delay(warmup);
        }

        var proxyBefore = proxyPid is { } before ? ProcessStats.Read(before) : default;
        var backendBefore = ProcessStats.Read(backendPid);
        Volatile.Write(ref recording, true);
        var clock = Stopwatch.StartNew();
        await Task.Delay(measure);
        Volatile.Write(ref recording, false);
        var elapsed = clock.Elapsed;
        var proxyAfter = proxyPid is { } after ? ProcessStats.Read(after) : default;
        var backendAfter = ProcessStats.Read(backendPid);
        await stop.CancelAsync();
        await Task.WhenAll(workers);

        var requests = latencies.Count;
        return new RestResult(target, round, requests, requests / elapsed.TotalSeconds, latencies.Percentile(50), latencies.Percentile(99),
            requests == 0 ? 0 : (proxyAfter.Cpu - proxyBefore.Cpu).TotalMicroseconds / requests,
            requests == 0 ? 0 : (backendAfter.Cpu - backendBefore.Cpu).TotalMicroseconds / requests);
    }

    /// <summary>
    /// Open loop: calls start at <paramref name="rate"/> per second whatever the answers do (at most 1,024 in flight;
    /// a target that falls that far behind shows as a served rate under the asked one).
    /// </summary>
    private static async Task<RestResult> MeasureAtRateAsync(string target, int round, Func<Task> call, double rate, TimeSpan warmup, TimeSpan measure, int? proxyPid, int backendPid)
    {
        const int MaxInFlight = 1024;
        var inFlight = 0;
        var recording = false;
        var latencies = new Latencies();

        async Task CallOnce()
        {
            var started = Stopwatch.GetTimestamp();
            try
            {
                await call();
                if (Volatile.Read(ref recording))
                {
                    latencies.Record(Stopwatch.GetElapsedTime(started));
                }
            }
            finally
            {
                Interlocked.Decrement(ref inFlight);
            }
        }

        using var ticks = new PeriodicTimer(TimeSpan.FromMilliseconds(1));
        var clock = Stopwatch.StartNew();
        long issued = 0;
        var measuring = TimeSpan.Zero;
        var stats = (Proxy: default(ProcessStats), Backend: default(ProcessStats));
        while (await ticks.WaitForNextTickAsync())
        {
            var now = clock.Elapsed;
            if (!Volatile.Read(ref recording) && now >= warmup)
            {
                stats = (proxyPid is { } p ? ProcessStats.Read(p) : default, ProcessStats.Read(backendPid));
                measuring = now;
                Volatile.Write(ref recording, true);
            }
            else if (Volatile.Read(ref recording) && now - measuring >= measure)
            {
                break;
            }

            for (var due = (long)(rate * now.TotalSeconds); issued < due; issued++)
            {
                if (Volatile.Read(ref inFlight) < MaxInFlight)
                {
                    Interlocked.Increment(ref inFlight);
                    _ = Task.Run(CallOnce);
                }
            }
        }

        Volatile.Write(ref recording, false);
        var elapsed = clock.Elapsed - measuring;
        var proxyAfter = proxyPid is { } after ? ProcessStats.Read(after) : default;
        var backendAfter = ProcessStats.Read(backendPid);
        while (Volatile.Read(ref inFlight) > 0)
        {
            await Task.Delay(10);
        }

        var requests = latencies.Count;
        return new RestResult(target, round, requests, requests / elapsed.TotalSeconds, latencies.Percentile(50), latencies.Percentile(99),
            requests == 0 ? 0 : (proxyAfter.Cpu - stats.Proxy.Cpu).TotalMicroseconds / requests,
            requests == 0 ? 0 : (backendAfter.Cpu - stats.Backend.Cpu).TotalMicroseconds / requests);
    }

    /// <summary>Medians over rounds per target.</summary>
    public static List<RestResult> Medians(List<RestResult> results) => results.GroupBy(r => r.Target).Select(g => new RestResult(g.Key, 0, (long)Harness.Median(g.Select(r => (double)r.Requests)),
        Harness.Median(g.Select(r => r.RequestsPerSecond)), (int)Harness.Median(g.Select(r => (double)r.P50Micros)), (int)Harness.Median(g.Select(r => (double)r.P99Micros)),
        Harness.Median(g.Select(r => r.ProxyCpuMicros)), Harness.Median(g.Select(r => r.BackendCpuMicros)))).ToList();

    public static string Svg(List<RestResult> results, Options options) => Chart.Bars($"Requests per second, {options.RestConcurrency} concurrent callers (median)", "longer is better",
        [.. Medians(results).Select(m => new Bar(m.Target, m.Target.Contains("edge", StringComparison.Ordinal) ? "edgebridge" : m.Target.Contains("YARP", StringComparison.Ordinal) ? "yarp" : "direct",
            m.RequestsPerSecond, m.RequestsPerSecond.ToString("N0", CultureInfo.InvariantCulture)))]);

    public static string Markdown(RestOverheadResults all, Options options, string chart)
    {
        var (results, sameRate, cold) = (all.Steady, all.SameRate, all.Cold);
        var medians = Medians(results);
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"## REST through the edge versus a plain YARP hop and no proxy ({options.RestConcurrency} concurrent callers, closed loop)").AppendLine();
        text.AppendLine("`GET /v1/quotes/AAA` (JSON transcoded by the backend) through the edge with every default feature on (token check, origins, " +
            "rate limits, ETag, security headers, metrics), through a plain YARP hop with the same routes, and straight to the backend; and " +
            "`GetQuote` as gRPC the same three ways. The proxies run on one core, the backend and the load generator on the other. " +
            "Medians over rounds; CPU per request is each process's user+system time.").AppendLine();
        text.AppendLine(CultureInfo.InvariantCulture, $"![Requests per second]({chart})").AppendLine();
        text.AppendLine("| target | req/s | p50 ms | p99 ms | proxy CPU µs/req | backend CPU µs/req |");
        text.AppendLine("|---|---|---|---|---|---|");
        foreach (var m in medians)
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"| {m.Target} | {m.RequestsPerSecond:N0} | {m.P50Micros / 1000.0:N2} | {m.P99Micros / 1000.0:N2} | {m.ProxyCpuMicros:N1} | {m.BackendCpuMicros:N1} |");
        }

        foreach (var protocol in new[] { "REST", "gRPC" })
        {
            var edge = medians.FirstOrDefault(m => m.Target == protocol + " via edge");
            var yarp = medians.FirstOrDefault(m => m.Target == protocol + " via YARP");
            if (edge is not null && yarp is not null)
            {
                text.AppendLine().AppendLine(string.Create(CultureInfo.InvariantCulture,
                    $"{protocol}, edge / YARP: {FanOut.Ratio(edge.ProxyCpuMicros, yarp.ProxyCpuMicros)}× the proxy CPU per request, " +
                    $"{FanOut.Ratio(edge.RequestsPerSecond, yarp.RequestsPerSecond)}× the throughput, {FanOut.Ratio(edge.BackendCpuMicros, yarp.BackendCpuMicros)}× the backend's CPU per request."));
            }
        }

        // Connect and gRPC-Web are translated at the edge to the backend's gRPC call; REST is transcoded by the backend.
        var rest = medians.FirstOrDefault(m => m.Target == "REST via edge");
        foreach (var translated in medians.Where(m => m.Target is "Connect via edge" or "gRPC-Web via edge"))
        {
            if (rest is not null)
            {
                text.AppendLine().AppendLine(string.Create(CultureInfo.InvariantCulture,
                    $"{translated.Target[..translated.Target.IndexOf(' ', StringComparison.Ordinal)]} / REST, both through the edge: {FanOut.Ratio(translated.ProxyCpuMicros, rest.ProxyCpuMicros)}× the edge's CPU per request, " +
                    $"{FanOut.Ratio(translated.RequestsPerSecond, rest.RequestsPerSecond)}× the throughput, {FanOut.Ratio(translated.P99Micros, rest.P99Micros)}× the p99, " +
                    $"{FanOut.Ratio(translated.BackendCpuMicros, rest.BackendCpuMicros)}× the backend's CPU per request."));
            }
        }

        if (sameRate.Count > 0)
        {
            var atRate = Medians(sameRate);
            text.AppendLine().AppendLine("### At the same request rate").AppendLine();
            text.AppendLine("Every target asked for the same rate, open loop: half the slower proxy's closed-loop rate above (REST and gRPC " +
                "each). In the closed loop the backend's CPU per request follows the rate a proxy lets through, because an idle " +
                "thread pool spins before it sleeps; at one rate it says what each path costs the backend. Medians over rounds.").AppendLine();
            text.AppendLine("| target | asked req/s | served req/s | p50 ms | p99 ms | proxy CPU µs/req | backend CPU µs/req |");
            text.AppendLine("|---|---|---|---|---|---|---|");
            foreach (var m in atRate)
            {
                var asked = 0.5 * medians.Where(s => ProtocolOf(s.Target) == ProtocolOf(m.Target) && !s.Target.EndsWith("direct", StringComparison.Ordinal)).Min(s => s.RequestsPerSecond);
                text.AppendLine(CultureInfo.InvariantCulture, $"| {m.Target} | {asked:N0} | {m.RequestsPerSecond:N0} | {m.P50Micros / 1000.0:N2} | {m.P99Micros / 1000.0:N2} | {m.ProxyCpuMicros:N1} | {m.BackendCpuMicros:N1} |");
            }

            foreach (var protocol in new[] { "REST", "gRPC" })
            {
                var edge = atRate.FirstOrDefault(m => m.Target == protocol + " via edge");
                var yarp = atRate.FirstOrDefault(m => m.Target == protocol + " via YARP");
                var direct = atRate.FirstOrDefault(m => m.Target == protocol + " direct");
                if (edge is not null && yarp is not null && direct is not null)
                {
                    text.AppendLine().AppendLine(string.Create(CultureInfo.InvariantCulture,
                        $"{protocol} at the same rate, edge / YARP: {FanOut.Ratio(edge.ProxyCpuMicros, yarp.ProxyCpuMicros)}× the proxy CPU per request, " +
                        $"{FanOut.Ratio(edge.BackendCpuMicros, yarp.BackendCpuMicros)}× the backend's CPU per request " +
                        $"(through the edge {FanOut.Ratio(edge.BackendCpuMicros, direct.BackendCpuMicros)}×, through YARP {FanOut.Ratio(yarp.BackendCpuMicros, direct.BackendCpuMicros)}× the backend's CPU per direct request)."));
                }
            }
        }

        if (cold.Count > 0)
        {
            text.AppendLine().AppendLine(CultureInfo.InvariantCulture, $"### Cold start: the first {ColdWindow(options).TotalSeconds:N0} s after a start").AppendLine();
            text.AppendLine("A fresh proxy process, loaded from the moment it listens, against the steady rate of the same proxy above. Medians over rounds.").AppendLine();
            text.AppendLine("| proxy | first window req/s | steady req/s | first / steady |");
            text.AppendLine("|---|---|---|---|");
            foreach (var group in cold.GroupBy(c => c.System))
            {
                var first = Harness.Median(group.Select(c => c.FirstWindowPerSecond));
                var steady = Harness.Median(group.Select(c => c.SteadyPerSecond));
                var ratio = Harness.Median(group.Select(c => c.SteadyPerSecond == 0 ? 0 : c.FirstWindowPerSecond / c.SteadyPerSecond));
                text.AppendLine(CultureInfo.InvariantCulture, $"| {group.Key} | {first:N0} | {steady:N0} | {ratio:N2} |");
            }
        }

        return text.AppendLine().ToString();
    }
}
