using System.Diagnostics;
using System.Globalization;
using System.Text;
using EdgeBridge.Benchmarks.Load;
using EdgeBridge.Benchmarks.Report;

namespace EdgeBridge.Benchmarks.Scenarios;

internal sealed record RunResult(string System, int Subscribers, int Round, long Delivered, double MessagesPerSecond, double CpuMicrosPerMessage,
    long RssBytes, int P50Micros, int P99Micros, int P999Micros, int LoadPercent = 0, double WireBytesPerMessage = 0);

/// <summary>
/// Fan-out: one upstream gRPC stream (4 symbols every 10 ms) to N WebSocket subscribers, every system in the same
/// run, interleaved, for several rounds.
/// </summary>
internal static class FanOut
{
    public static async Task<List<RunResult>> RunAsync(Options options)
    {
        var results = new List<RunResult>();
        await using var backend = await Harness.StartBackendAsync(TimeSpan.FromMilliseconds(10));
        for (var round = 1; round <= options.Rounds; round++)
        {
            foreach (var subscribers in options.Subscribers)
            {
                foreach (var system in options.Systems)
                {
                    await using var server = await Harness.StartSystemAsync(system, backend);
                    var result = await Subscribers.MeasureAsync(server, subscribers, round, options, sampleEvery: Math.Max(1, subscribers / 50));
                    results.Add(result);
                    Console.Error.WriteLine($"fan-out round {round} {system,-10} n={subscribers,6}: {result.MessagesPerSecond,10:N0} msg/s  p99 {result.P99Micros / 1000.0,8:N1} ms  {result.CpuMicrosPerMessage,6:N2} µs CPU/msg");
                }
            }
        }

        return results;
    }

    public static string Markdown(List<RunResult> results, string chart)
    {
        var text = new StringBuilder();
        text.AppendLine("## Fan-out: one upstream gRPC stream (4 symbols, every 10 ms) to N WebSocket subscribers").AppendLine();
        text.AppendLine("Asked of every system: 400 messages per second per subscriber. Medians over rounds; systems interleaved within each round. " +
            "CPU is the server process's user+system time per delivered message; latency is backend publish → client receipt.").AppendLine();
        text.AppendLine(CultureInfo.InvariantCulture, $"![Fan-out: delivered messages per second]({chart})").AppendLine();
        text.AppendLine("| N | system | delivered msg/s | p50 ms | p99 ms | p99.9 ms | CPU µs/msg | wire bytes/msg | RSS MB |");
        text.AppendLine("|---|---|---|---|---|---|---|---|---|");
        var medians = Medians(results).ToList();
        foreach (var m in medians)
        {
            text.AppendLine(CultureInfo.InvariantCulture,
                $"| {m.Subscribers} | {m.System} | {m.MessagesPerSecond:N0} | {m.P50Micros / 1000.0:N1} | {m.P99Micros / 1000.0:N1} | {m.P999Micros / 1000.0:N1} | {m.CpuMicrosPerMessage:N2} | {m.WireBytesPerMessage:N0} | {m.RssBytes / 1048576.0:N0} |");
        }

        text.AppendLine().AppendLine("Ratios EdgeBridge / peer:").AppendLine();
        text.AppendLine("| N | peer | msg/s | CPU/msg | p99 |");
        text.AppendLine("|---|---|---|---|---|");
        foreach (var ours in medians.Where(m => m.System == "edgebridge"))
        {
            foreach (var peer in medians.Where(m => m.Subscribers == ours.Subscribers && m.System != "edgebridge"))
            {
                text.AppendLine(CultureInfo.InvariantCulture,
                    $"| {ours.Subscribers} | {peer.System} | {Ratio(ours.MessagesPerSecond, peer.MessagesPerSecond)} | {Ratio(ours.CpuMicrosPerMessage, peer.CpuMicrosPerMessage)} | {Ratio(ours.P99Micros, peer.P99Micros)} |");
            }
        }

        return text.AppendLine().ToString();
    }

    public static string Svg(List<RunResult> results) => Chart.Bars("Fan-out: delivered messages per second (median)", "longer is better",
        [.. Medians(results).Select(m => new Bar($"N={m.Subscribers} {m.System}", m.System, m.MessagesPerSecond, m.MessagesPerSecond.ToString("N0", CultureInfo.InvariantCulture)))]);

    /// <summary>Medians over rounds per (N, system, load).</summary>
    public static IEnumerable<RunResult> Medians(List<RunResult> results) => results
        .GroupBy(r => (r.Subscribers, r.System, r.LoadPercent))
        .OrderBy(g => g.Key.Subscribers).ThenBy(g => g.Key.System, StringComparer.Ordinal).ThenBy(g => g.Key.LoadPercent)
        .Select(g => new RunResult(g.Key.System, g.Key.Subscribers, 0, (long)Harness.Median(g.Select(r => (double)r.Delivered)),
            Harness.Median(g.Select(r => r.MessagesPerSecond)), Harness.Median(g.Select(r => r.CpuMicrosPerMessage)), (long)Harness.Median(g.Select(r => (double)r.RssBytes)),
            (int)Harness.Median(g.Select(r => (double)r.P50Micros)), (int)Harness.Median(g.Select(r => (double)r.P99Micros)), (int)Harness.Median(g.Select(r => (double)r.P999Micros)),
            g.Key.LoadPercent, Harness.Median(g.Select(r => r.WireBytesPerMessage))));

    public static string Ratio(double ours, double peer) => peer == 0 ? "–" : (ours / peer).ToString("N2", CultureInfo.InvariantCulture);
}

/// <summary>N subscribers of one system's stream, measured over a window.</summary>
internal static class Subscribers
{
    public static async Task<RunResult> MeasureAsync(SystemUnderTest server, int subscribers, int round, Options options, int sampleEvery, int loadPercent = 0)
    {
        var (path, subprotocol, hello, marker) = server.Protocol();
        var markerBytes = Encoding.UTF8.GetBytes(marker);
        using var stop = new CancellationTokenSource();

        // Connect everyone first (64 handshakes at a time), then subscribe everyone: the connect phase does not
        // have to compete with a growing stream of messages.
        var latencies = new Latencies();
        var clients = new LoadClient[subscribers];
        await Parallel.ForAsync(0, subscribers, new ParallelOptions { MaxDegreeOfParallelism = 64 }, async (i, token) =>
            clients[i] = await LoadClient.ConnectAsync(Harness.SourceAddress(i), server.Port, path, subprotocol, sampleEvery, latencies, token));
        var loops = clients.Select(client => Task.Run(() => client.RunAsync(markerBytes, stop.Token))).ToList();
        foreach (var client in clients)
        {
            foreach (var frame in hello)
            {
                await client.SendTextAsync(frame);
            }
        }

        await Task.Delay(options.Warmup);
        foreach (var client in clients)
        {
            client.Recording = true;
        }

        var before = ProcessStats.Read(server.Process.Id);
        var start = clients.Sum(c => c.Messages);
        var bytesBefore = clients.Sum(c => c.WireBytes);
        var clock = Stopwatch.StartNew();
        await Task.Delay(options.Measure);
        var delivered = clients.Sum(c => c.Messages) - start;
        var bytes = clients.Sum(c => c.WireBytes) - bytesBefore;
        var elapsed = clock.Elapsed;
        var after = ProcessStats.Read(server.Process.Id);
        foreach (var client in clients)
        {
            client.Recording = false;
        }

        await stop.CancelAsync();
        foreach (var client in clients)
        {
            await client.DisposeAsync();
        }

        await Task.WhenAll(loops);
        return new RunResult(server.Name, subscribers, round, delivered, delivered / elapsed.TotalSeconds,
            delivered == 0 ? 0 : (after.Cpu - before.Cpu).TotalMicroseconds / delivered, after.RssBytes,
            latencies.Percentile(50), latencies.Percentile(99), latencies.Percentile(99.9), loadPercent, delivered == 0 ? 0 : bytes / (double)delivered);
    }
}
