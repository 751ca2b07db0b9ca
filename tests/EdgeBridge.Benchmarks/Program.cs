using System.Globalization;
using System.Text;
using EdgeBridge.Benchmarks;
using EdgeBridge.Benchmarks.Scenarios;
using EdgeBridge.Benchmarks.Servers;

// EdgeBridge benchmark harness (docs/benchmarks.md).
//   run   [--smoke] [--scenarios fanout,latency,idle,rest,polling,cluster,calls,storm,codec] [--systems edgebridge,raw,signalr] [--storm-clients N]
//         [--subscribers 1000,5000,15000] [--latency-subscribers 5000] [--seconds 10] [--rounds 3] [--latency-rounds 5]
//         [--idle-connections 10000]
//         [--pollers 1000] [--rest-concurrency 32] [--report docs/benchmarks.md]
//   serve <system> key=value...   (internal: one system under test per process, so /proc measures it alone)
//   load  <base address> [seconds=20] [concurrency=32] [pid=N]   (GET /v1/quotes/AAA in a closed loop, for a
//         profiler attached to a system started with serve; prints req/s and, given pid, its CPU µs per request)
if (args.Length > 0 && args[0] == "serve")
{
    var settings = args.Skip(2).Select(a => a.Split('=', 2)).ToDictionary(p => p[0], p => p[1], StringComparer.Ordinal);
    return await Systems.ServeAsync(args[1], settings);
}

if (args.Length > 1 && args[0] == "load")
{
    var settings = args.Skip(2).Select(a => a.Split('=', 2)).ToDictionary(p => p[0], p => p[1], StringComparer.Ordinal);
    return await RestOverhead.LoadAsync(args[1], settings);
}

var options = Options.Parse(args);
var report = new StringBuilder();
report.AppendLine("# Benchmarks").AppendLine();
report.AppendLine(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Preamble.md")).TrimEnd()).AppendLine();
report.AppendLine(CultureInfo.InvariantCulture, $"Run: {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, .NET {Environment.Version}, {Environment.ProcessorCount} cores, " +
    $"{GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / (1L << 30)} GiB, {Environment.OSVersion}.");
report.AppendLine(CultureInfo.InvariantCulture, $"Command: `{options.CommandLine}`.").AppendLine();
var failures = new List<string>();

// Each scenario's chart is an SVG next to the report, named after it: docs/benchmarks-fanout.svg.
var charts = new Dictionary<string, string>(StringComparer.Ordinal);
string AddChart(string scenario, string svg)
{
    var name = $"{Path.GetFileNameWithoutExtension(options.ReportPath ?? "benchmarks.md")}-{scenario}.svg";
    charts[name] = svg;
    return name;
}

List<RunResult>? fanOut = null;
if (options.Scenarios.Contains("fanout"))
{
    fanOut = await FanOut.RunAsync(options);
    report.Append(FanOut.Markdown(fanOut, AddChart("fanout", FanOut.Svg(fanOut))));
    failures.AddRange(fanOut.Where(r => r.Delivered == 0).Select(r => $"fanout {r.System} n={r.Subscribers}"));
}

if (options.Scenarios.Contains("latency"))
{
    var latency = await PushLatency.RunAsync(options, fanOut);
    report.Append(PushLatency.Markdown(latency, AddChart("latency", PushLatency.Svg(latency))));
    failures.AddRange(latency.Where(r => r.Delivered == 0).Select(r => $"latency {r.System} {r.LoadPercent}%"));
}

if (options.Scenarios.Contains("idle"))
{
    var idle = await IdleMemory.RunAsync(options);
    report.Append(IdleMemory.Markdown(idle, options, AddChart("idle", IdleMemory.Svg(idle))));
    failures.AddRange(idle.Where(r => r.Connected < options.IdleConnections).Select(r => $"idle {r.System} connected {r.Connected}"));
}

if (options.Scenarios.Contains("rest"))
{
    var rest = await RestOverhead.RunAsync(options);
    report.Append(RestOverhead.Markdown(rest, options, AddChart("rest", RestOverhead.Svg(rest.Steady, options))));
    failures.AddRange(rest.Steady.Concat(rest.SameRate).Where(r => r.Requests == 0).Select(r => $"rest {r.Target}"));
    failures.AddRange(rest.Cold.Where(c => c.FirstWindowPerSecond == 0).Select(c => $"cold start {c.System}"));
}

if (options.Scenarios.Contains("polling"))
{
    var polling = await PollingVsPush.RunAsync(options);
    report.Append(PollingVsPush.Markdown(polling, options, AddChart("polling", PollingVsPush.Svg(polling))));
    failures.AddRange(polling.Where(r => r.Updates == 0).Select(r => $"polling {r.Mode}"));
}

if (options.Scenarios.Contains("cluster"))
{
    var cluster = await Cluster.RunAsync(options);
    report.Append(Cluster.Markdown(cluster));
    failures.AddRange(cluster.Where(r => r.CrossReplica.Messages == 0 || double.IsNaN(r.FailoverMaxMs)).Select(r => $"cluster round {r.Round}"));
}

if (options.Scenarios.Contains("calls"))
{
    var calls = await Calls.RunAsync(options);
    report.Append(Calls.Markdown(calls, options));
    failures.AddRange(calls.Where(r => r.Calls == 0 || r.P50Micros == 0).Select(r => $"calls {r.Path} round {r.Round}"));
}

if (options.Scenarios.Contains("codec"))
{
    var codec = Codec.Run(options);
    report.Append(Codec.Markdown(codec));
    failures.AddRange(codec.Where(r => r.MicrosPerMessage <= 0).Select(r => $"codec {r.Message} {r.Operation} {r.Codec}"));
}

if (options.Scenarios.Contains("storm"))
{
    var storm = await Storm.RunAsync(options);
    report.Append(Storm.Markdown(storm, options));
    failures.AddRange(storm.Where(r => r.Resubscribed == 0).Select(r => $"storm {r.System} round {r.Round}"));
}

Console.WriteLine(report);
if (options.ReportPath is not null)
{
    // What people wrote about a run below the marker survives the next run.
    const string Marker = "<!-- Written by people, kept by the harness. -->";
    var kept = File.Exists(options.ReportPath) ? File.ReadAllText(options.ReportPath) : "";
    var at = kept.IndexOf(Marker, StringComparison.Ordinal);
    report.AppendLine(at >= 0 ? kept[at..] : Marker);
    await File.WriteAllTextAsync(options.ReportPath, report.ToString());
    foreach (var (name, svg) in charts)
    {
        await File.WriteAllTextAsync(Path.Combine(Path.GetDirectoryName(Path.GetFullPath(options.ReportPath))!, name), svg);
    }
}

// Smoke mode only checks that every scenario produced something: numbers from it mean nothing.
if (failures.Count > 0)
{
    Console.Error.WriteLine("nothing measured for: " + string.Join(", ", failures));
    return 1;
}

return 0;

internal sealed record Options(bool Smoke, string[] Scenarios, int[] Subscribers, int LatencySubscribers, TimeSpan Measure, TimeSpan Warmup, int Rounds, int LatencyRounds, string[] Systems,
    int IdleConnections, int Pollers, int RestConcurrency, int StormClients, string? ReportPath, string CommandLine)
{
    public static Options Parse(string[] args)
    {
        string? Value(string name) => args.SkipWhile(a => a != name).Skip(1).FirstOrDefault();
        var smoke = args.Contains("--smoke");
        var scenarios = (Value("--scenarios") ?? "fanout,latency,idle,rest,polling,cluster,calls,storm,codec").Split(',');
        var subscribers = (Value("--subscribers") ?? (smoke ? "20" : "1000,5000,15000")).Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray();
        var latencySubscribers = int.Parse(Value("--latency-subscribers") ?? (smoke ? "20" : "5000"), CultureInfo.InvariantCulture);
        var seconds = double.Parse(Value("--seconds") ?? (smoke ? "2" : "10"), CultureInfo.InvariantCulture);
        var rounds = int.Parse(Value("--rounds") ?? (smoke ? "1" : "3"), CultureInfo.InvariantCulture);
        // Single latency rounds at 50 % of a system's maximum vary several-fold on a shared machine: take five.
        var latencyRounds = int.Parse(Value("--latency-rounds") ?? (smoke ? "1" : "5"), CultureInfo.InvariantCulture);
        var systems = (Value("--systems") ?? "edgebridge,raw,signalr").Split(',');
        var idle = int.Parse(Value("--idle-connections") ?? (smoke ? "20" : "10000"), CultureInfo.InvariantCulture);
        var pollers = int.Parse(Value("--pollers") ?? (smoke ? "20" : "1000"), CultureInfo.InvariantCulture);
        var restConcurrency = int.Parse(Value("--rest-concurrency") ?? (smoke ? "4" : "32"), CultureInfo.InvariantCulture);
        var stormClients = int.Parse(Value("--storm-clients") ?? (smoke ? "20" : "10000"), CultureInfo.InvariantCulture);
        return new Options(smoke, scenarios, subscribers, latencySubscribers, TimeSpan.FromSeconds(seconds), TimeSpan.FromSeconds(smoke ? 1 : 3), rounds, latencyRounds, systems,
            idle, pollers, restConcurrency, stormClients, Value("--report"), "EdgeBridge.Benchmarks " + string.Join(' ', args));
    }
}
