using System.Globalization;
using System.Text;
using EdgeBridge.Benchmarks.Report;

namespace EdgeBridge.Benchmarks.Scenarios;

/// <summary>
/// Push latency (backend publish → client receipt) at 10, 50 and 80 % of each system's own maximum, the
/// maximum being its fan-out throughput measured in the same run at the largest N. The backend's tick rate sets
/// the offered load, so each system is measured at its own fractions.
/// </summary>
internal static class PushLatency
{
    private static readonly int[] s_loads = [10, 50, 80];

    /// <summary>
    /// The load "percent" of the extra point where every system is asked the same rate: half the slowest system's
    /// maximum. Fractions of each system's own maximum ask a fast system for far more than a slow one.
    /// </summary>
    public const int SameRate = -1;

    public static async Task<List<RunResult>> RunAsync(Options options, List<RunResult>? fanOut)
    {
        var subscribers = options.LatencySubscribers;
        var results = new List<RunResult>();
        for (var round = 1; round <= options.LatencyRounds; round++)
        {
            var sameRate = options.Systems.Min(system => Maximum(fanOut, system, subscribers)) / 2;
            foreach (var load in options.Smoke ? [50] : (int[])[.. s_loads, SameRate])
            {
                foreach (var system in options.Systems)
                {
                    var maximum = Maximum(fanOut, system, subscribers);
                    var perSubscriber = (load == SameRate ? sameRate : load / 100.0 * maximum) / subscribers;

                    // Each tick publishes 4 messages (one per symbol).
                    var tick = TimeSpan.FromSeconds(4 / perSubscriber);
                    await using var backend = await Harness.StartBackendAsync(tick);
                    await using var server = await Harness.StartSystemAsync(system, backend);
                    var result = await Subscribers.MeasureAsync(server, subscribers, round, options, sampleEvery: Math.Max(1, subscribers / 200), loadPercent: load);
                    results.Add(result);
                    Console.Error.WriteLine($"latency round {round} {system,-10} {(load == SameRate ? "same" : load + "%"),5} ({perSubscriber * subscribers,9:N0} msg/s asked): {result.MessagesPerSecond,10:N0} delivered  p50 {result.P50Micros / 1000.0:N1} ms  p99 {result.P99Micros / 1000.0:N1} ms");
                }
            }
        }

        return results;
    }

    /// <summary>
    /// The system's median fan-out throughput at this N (its best at any N when this N was not run); without a
    /// fan-out run, what it is asked at 10 ms ticks.
    /// </summary>
    private static double Maximum(List<RunResult>? fanOut, string system, int subscribers)
    {
        var medians = fanOut is null ? [] : FanOut.Medians(fanOut).Where(m => m.System == system).ToList();
        return medians.FirstOrDefault(m => m.Subscribers == subscribers)?.MessagesPerSecond
            ?? (medians.Count > 0 ? medians.Max(m => m.MessagesPerSecond) : 400.0 * subscribers);
    }

    public static string Svg(List<RunResult> results) => Chart.Bars("Push latency p99, ms (median)", "shorter is better",
        [.. FanOut.Medians(results).OrderBy(m => m.LoadPercent == SameRate ? int.MaxValue : m.LoadPercent).ThenBy(m => m.System, StringComparer.Ordinal)
            .Select(m => new Bar($"{Load(m)} {m.System}", m.System, m.P99Micros / 1000.0, (m.P99Micros / 1000.0).ToString("N1", CultureInfo.InvariantCulture)))]);

    public static string Markdown(List<RunResult> results, string chart)
    {
        var medians = FanOut.Medians(results).ToList();
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"## Push latency at 10, 50 and 80 % of each system's maximum, and at one rate for all (N = {results.FirstOrDefault()?.Subscribers})").AppendLine();
        text.AppendLine("Each system's maximum is its fan-out throughput above at this N; the backend's tick rate is set so that the system is asked for " +
            "that fraction of it. \"same rate\" asks every system for the same rate, half the slowest system's maximum. " +
            "Latency is backend publish → client receipt, medians over rounds.").AppendLine();
        text.AppendLine(CultureInfo.InvariantCulture, $"![Push latency p99]({chart})").AppendLine();
        text.AppendLine("| load | system | delivered msg/s | p50 ms | p99 ms | p99.9 ms | CPU µs/msg |");
        text.AppendLine("|---|---|---|---|---|---|---|");
        foreach (var m in medians.OrderBy(m => m.LoadPercent == SameRate ? int.MaxValue : m.LoadPercent).ThenBy(m => m.System, StringComparer.Ordinal))
        {
            text.AppendLine(CultureInfo.InvariantCulture,
                $"| {Load(m)} | {m.System} | {m.MessagesPerSecond:N0} | {m.P50Micros / 1000.0:N1} | {m.P99Micros / 1000.0:N1} | {m.P999Micros / 1000.0:N1} | {m.CpuMicrosPerMessage:N2} |");
        }

        text.AppendLine().AppendLine("Ratios EdgeBridge / peer (p99):").AppendLine();
        text.AppendLine("| load | peer | p50 | p99 | p99.9 |");
        text.AppendLine("|---|---|---|---|---|");
        foreach (var ours in medians.Where(m => m.System == "edgebridge"))
        {
            foreach (var peer in medians.Where(m => m.LoadPercent == ours.LoadPercent && m.System != "edgebridge"))
            {
                text.AppendLine(CultureInfo.InvariantCulture,
                    $"| {Load(ours)} | {peer.System} | {FanOut.Ratio(ours.P50Micros, peer.P50Micros)} | {FanOut.Ratio(ours.P99Micros, peer.P99Micros)} | {FanOut.Ratio(ours.P999Micros, peer.P999Micros)} |");
            }
        }

        return text.AppendLine().ToString();
    }

    private static string Load(RunResult result) => result.LoadPercent == SameRate ? "same rate" : $"{result.LoadPercent} %";
}
