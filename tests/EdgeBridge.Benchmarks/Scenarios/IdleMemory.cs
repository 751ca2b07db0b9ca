using System.Globalization;
using System.Text;
using EdgeBridge.Benchmarks.Load;
using EdgeBridge.Benchmarks.Report;

namespace EdgeBridge.Benchmarks.Scenarios;

internal sealed record IdleResult(string System, int Round, int Connected, double RssKbPerConnection, double HeapKbPerConnection, long RssBytes, double CpuMicrosPerConnection);

/// <summary>
/// Idle memory per connection: N initialised sockets, each with one subscription to a stream that is quiet, and
/// what they cost the server in resident memory and in managed heap (after a full collection) over its baseline;
/// systems interleaved, several rounds, a fresh server process for each measurement.
/// </summary>
internal static class IdleMemory
{
    public static async Task<List<IdleResult>> RunAsync(Options options)
    {
        var results = new List<IdleResult>();

        // A market that does not move within the measurement: sockets and subscriptions only.
        await using var backend = await Harness.StartBackendAsync(TimeSpan.FromHours(1));
        for (var round = 1; round <= options.Rounds; round++)
        {
            foreach (var system in options.Systems)
            {
                results.Add(await MeasureAsync(system, round, backend, options));
                Console.Error.WriteLine($"idle round {round} {system,-10} {results[^1].Connected} connections: {results[^1].RssKbPerConnection:N1} KB RSS, {results[^1].HeapKbPerConnection:N1} KB heap, {results[^1].CpuMicrosPerConnection:N0} µs CPU per connection");
            }
        }

        return results;
    }

    private static async Task<IdleResult> MeasureAsync(string system, int round, Backend backend, Options options)
    {
        await using var server = await Harness.StartSystemAsync(system, backend);
        var (path, subprotocol, hello, marker) = server.Protocol();
        var markerBytes = Encoding.UTF8.GetBytes(marker);
        using var stop = new CancellationTokenSource();

        // The baseline has one connection, so that whatever the first one initialises is not counted per connection.
        var first = await LoadClient.ConnectAsync(Harness.SourceAddress(0), server.Port, path, subprotocol, int.MaxValue, null, stop.Token);
        var loops = new List<Task> { Task.Run(() => first.RunAsync(markerBytes, stop.Token)) };
        foreach (var frame in hello)
        {
            await first.SendTextAsync(frame);
        }

        await Task.Delay(TimeSpan.FromSeconds(2));
        var heapBefore = await server.ManagedHeapAsync();
        var before = ProcessStats.Read(server.Process.Id);

        var clients = new LoadClient[options.IdleConnections];
        await Parallel.ForAsync(0, clients.Length, new ParallelOptions { MaxDegreeOfParallelism = 64 }, async (i, token) =>
        {
            clients[i] = await LoadClient.ConnectAsync(Harness.SourceAddress(i + 1), server.Port, path, subprotocol, int.MaxValue, null, token);
            foreach (var frame in hello)
            {
                await clients[i].SendTextAsync(frame);
            }
        });
        loops.AddRange(clients.Select(client => Task.Run(() => client.RunAsync(markerBytes, stop.Token))));
        await Task.Delay(TimeSpan.FromSeconds(options.Smoke ? 1 : 5));

        // What the storm of handshakes and subscriptions cost, read before the heap probe's collections.
        var cpu = ProcessStats.Read(server.Process.Id).Cpu - before.Cpu;
        var heapAfter = await server.ManagedHeapAsync();
        var rssAfter = ProcessStats.Read(server.Process.Id).RssBytes;
        var connected = clients.Count(c => c is not null);
        var result = new IdleResult(system, round, connected, (rssAfter - before.RssBytes) / 1024.0 / connected, (heapAfter - heapBefore) / 1024.0 / connected, rssAfter,
            cpu.TotalMicroseconds / connected);

        await stop.CancelAsync();
        await first.DisposeAsync();
        foreach (var client in clients)
        {
            await client.DisposeAsync();
        }

        await Task.WhenAll(loops);
        return result;
    }

    /// <summary>Medians over rounds per system.</summary>
    public static List<IdleResult> Medians(List<IdleResult> results) => results
        .GroupBy(r => r.System)
        .Select(g => new IdleResult(g.Key, 0, (int)Harness.Median(g.Select(r => (double)r.Connected)), Harness.Median(g.Select(r => r.RssKbPerConnection)),
            Harness.Median(g.Select(r => r.HeapKbPerConnection)), (long)Harness.Median(g.Select(r => (double)r.RssBytes)), Harness.Median(g.Select(r => r.CpuMicrosPerConnection))))
        .ToList();

    public static string Markdown(List<IdleResult> results, Options options, string chart)
    {
        var medians = Medians(results);
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"## Idle memory per connection ({options.IdleConnections:N0} connections, one subscription each)").AppendLine();
        text.AppendLine("Resident memory (from /proc) and managed heap (the server's own `GC.GetTotalMemory` after a full collection) over a " +
            "one-connection baseline, divided by the number of connections. The stream they subscribe to is quiet. A fresh server for every " +
            "measurement; medians over rounds, systems interleaved. CPU is the server's user+system time from the first handshake to " +
            "the end of the quiet period (handshake, init, subscribe), per connection.").AppendLine();
        text.AppendLine(CultureInfo.InvariantCulture, $"![Idle memory per connection]({chart})").AppendLine();
        text.AppendLine("| system | connections | KB RSS / connection | KB managed heap / connection | RSS MB | CPU µs / connection |");
        text.AppendLine("|---|---|---|---|---|---|");
        foreach (var r in medians)
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"| {r.System} | {r.Connected:N0} | {r.RssKbPerConnection:N1} | {r.HeapKbPerConnection:N1} | {r.RssBytes / 1048576.0:N0} | {r.CpuMicrosPerConnection:N0} |");
        }

        if (medians.FirstOrDefault(r => r.System == "edgebridge") is { } ours)
        {
            text.AppendLine().AppendLine("Ratios EdgeBridge / peer:").AppendLine();
            text.AppendLine("| peer | RSS / connection | heap / connection | CPU / connection |");
            text.AppendLine("|---|---|---|---|");
            foreach (var peer in medians.Where(r => r.System != "edgebridge"))
            {
                text.AppendLine(CultureInfo.InvariantCulture,
                    $"| {peer.System} | {FanOut.Ratio(ours.RssKbPerConnection, peer.RssKbPerConnection)} | {FanOut.Ratio(ours.HeapKbPerConnection, peer.HeapKbPerConnection)} | {FanOut.Ratio(ours.CpuMicrosPerConnection, peer.CpuMicrosPerConnection)} |");
            }
        }

        return text.AppendLine().ToString();
    }

    public static string Svg(List<IdleResult> results) => Chart.Bars("Idle memory per connection, KB (median)", "shorter is better",
        [.. Medians(results).SelectMany(m => new[]
        {
            new Bar($"{m.System} RSS", m.System, m.RssKbPerConnection, m.RssKbPerConnection.ToString("N1", CultureInfo.InvariantCulture)),
            new Bar($"{m.System} managed heap", m.System, m.HeapKbPerConnection, m.HeapKbPerConnection.ToString("N1", CultureInfo.InvariantCulture)),
        })]);
}
