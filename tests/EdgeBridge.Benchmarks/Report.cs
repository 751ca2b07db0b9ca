using System.Globalization;
using System.Text;

/// <summary>Medians over rounds and ratios ours/peer, as markdown and as an SVG chart.</summary>
internal static class Report
{
    public static string Markdown(Options options, List<RunResult> results)
    {
        var text = new StringBuilder();
        text.AppendLine("# Benchmarks").AppendLine();
        text.AppendLine(CultureInfo.InvariantCulture, $"Machine: {Environment.ProcessorCount} cores, {Environment.OSVersion}, .NET {Environment.Version}; run {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC.");
        text.AppendLine(CultureInfo.InvariantCulture, $"Command: `dotnet run -c Release --project tests/EdgeBridge.Benchmarks -- run --subscribers {string.Join(',', options.Subscribers)} --seconds {options.Measure.TotalSeconds} --rounds {options.Rounds}`.");
        text.AppendLine();
        text.AppendLine("## Fan-out: one upstream gRPC stream (4 symbols, every 10 ms) to N WebSocket subscribers").AppendLine();
        text.AppendLine("Medians over rounds; systems interleaved within each round. CPU is the server process's user+system time per delivered message; latency is backend publish → client receipt.").AppendLine();
        text.AppendLine("| N | system | delivered msg/s | p50 ms | p99 ms | p99.9 ms | CPU µs/msg | RSS MB |");
        text.AppendLine("|---|---|---|---|---|---|---|---|");
        foreach (var group in Medians(results))
        {
            text.AppendLine(CultureInfo.InvariantCulture,
                $"| {group.Subscribers} | {group.System} | {group.MessagesPerSecond:N0} | {group.P50Micros / 1000.0:N1} | {group.P99Micros / 1000.0:N1} | {group.P999Micros / 1000.0:N1} | {group.CpuMicrosPerMessage:N2} | {group.RssBytes / 1048576.0:N0} |");
        }

        text.AppendLine().AppendLine("### Ratios (EdgeBridge / peer)").AppendLine();
        text.AppendLine("| N | peer | msg/s | CPU/msg | p99 |");
        text.AppendLine("|---|---|---|---|---|");
        var medians = Medians(results).ToList();
        foreach (var ours in medians.Where(m => m.System == "edgebridge"))
        {
            foreach (var peer in medians.Where(m => m.Subscribers == ours.Subscribers && m.System != "edgebridge"))
            {
                text.AppendLine(CultureInfo.InvariantCulture,
                    $"| {ours.Subscribers} | {peer.System} | {Ratio(ours.MessagesPerSecond, peer.MessagesPerSecond)} | {Ratio(ours.CpuMicrosPerMessage, peer.CpuMicrosPerMessage)} | {Ratio(ours.P99Micros, peer.P99Micros)} |");
            }
        }

        return text.ToString();
    }

    public static string Svg(List<RunResult> results)
    {
        var medians = Medians(results).ToList();
        var max = Math.Max(1, medians.Max(m => m.MessagesPerSecond));
        const int barHeight = 18;
        var svg = new StringBuilder();
        svg.AppendLine(CultureInfo.InvariantCulture, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"720\" height=\"{40 + medians.Count * (barHeight + 6)}\" font-family=\"sans-serif\" font-size=\"12\">");
        svg.AppendLine("<text x=\"10\" y=\"20\" font-weight=\"bold\">Fan-out: delivered messages per second (median)</text>");
        var y = 36;
        foreach (var m in medians)
        {
            var width = (int)(450 * m.MessagesPerSecond / max);
            var color = m.System switch { "edgebridge" => "#2f81f7", "raw" => "#8b949e", _ => "#d29922" };
            svg.AppendLine(CultureInfo.InvariantCulture, $"<text x=\"10\" y=\"{y + 13}\">N={m.Subscribers} {m.System}</text>");
            svg.AppendLine(CultureInfo.InvariantCulture, $"<rect x=\"160\" y=\"{y}\" width=\"{width}\" height=\"{barHeight}\" fill=\"{color}\"/>");
            svg.AppendLine(CultureInfo.InvariantCulture, $"<text x=\"{165 + width}\" y=\"{y + 13}\">{m.MessagesPerSecond:N0}</text>");
            y += barHeight + 6;
        }

        svg.AppendLine("</svg>");
        return svg.ToString();
    }

    private static IEnumerable<RunResult> Medians(List<RunResult> results) => results
        .GroupBy(r => (r.Subscribers, r.System))
        .OrderBy(g => g.Key.Subscribers).ThenBy(g => g.Key.System, StringComparer.Ordinal)
        .Select(g => new RunResult(g.Key.System, g.Key.Subscribers, 0, (long)Median(g, r => r.Delivered),
            Median(g, r => r.MessagesPerSecond), Median(g, r => r.CpuMicrosPerMessage), (long)Median(g, r => r.RssBytes),
            (int)Median(g, r => r.P50Micros), (int)Median(g, r => r.P99Micros), (int)Median(g, r => r.P999Micros)));

    /// <summary>The median; with an even number of rounds, the mean of the middle two.</summary>
    private static double Median(IEnumerable<RunResult> group, Func<RunResult, double> value)
    {
        var sorted = group.Select(value).Order().ToList();
        var middle = sorted.Count / 2;
        return sorted.Count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
    }

    private static string Ratio(double ours, double peer) => peer == 0 ? "–" : (ours / peer).ToString("N2", CultureInfo.InvariantCulture);
}
