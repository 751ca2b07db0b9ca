using System.Globalization;
using System.Text;
using EdgeBridge.Benchmarks.Load;

namespace EdgeBridge.Benchmarks.Scenarios;

internal sealed record IdleResult(string System, int Connected, double RssKbPerConnection, double HeapKbPerConnection, long RssBytes);

/// <summary>
/// Idle memory per connection: N initialised sockets, each with one subscription to a stream that is quiet, and
/// what they cost the server in resident memory and in managed heap (after a full collection) over its baseline.
/// </summary>
internal static class IdleMemory
{
    public static async Task<List<IdleResult>> RunAsync(Options options)
    {
        var results = new List<IdleResult>();

        // A market that does not move within the measurement: sockets and subscriptions only.
        await using var backend = await Harness.StartBackendAsync(TimeSpan.FromHours(1));
        foreach (var system in options.Systems)
        {
            await using var server = await Harness.StartSystemAsync(system, backend);
            var (path, subprotocol, hello, marker) = server.Protocol();
            var markerBytes = Encoding.UTF8.GetBytes(marker);
            using var stop = new CancellationTokenSource();

            // The baseline has one connection, so that whatever the first one initialises is not counted per connection.
            var first = await LoadClient.ConnectAsync(Harness.SourceAddress(0), server.Port, path, subprotocol, int.MaxValue, stop.Token);
            var loops = new List<Task> { Task.Run(() => first.RunAsync(markerBytes, stop.Token)) };
            foreach (var frame in hello)
            {
                await first.SendTextAsync(frame);
            }

            await Task.Delay(TimeSpan.FromSeconds(2));
            var heapBefore = await server.ManagedHeapAsync();
            var rssBefore = ProcessStats.Read(server.Process.Id).RssBytes;

            var clients = new LoadClient[options.IdleConnections];
            await Parallel.ForAsync(0, clients.Length, new ParallelOptions { MaxDegreeOfParallelism = 64 }, async (i, token) =>
            {
                clients[i] = await LoadClient.ConnectAsync(Harness.SourceAddress(i + 1), server.Port, path, subprotocol, int.MaxValue, token);
                foreach (var frame in hello)
                {
                    await clients[i].SendTextAsync(frame);
                }
            });
            loops.AddRange(clients.Select(client => Task.Run(() => client.RunAsync(markerBytes, stop.Token))));
            await Task.Delay(TimeSpan.FromSeconds(options.Smoke ? 1 : 5));
            var heapAfter = await server.ManagedHeapAsync();
            var rssAfter = ProcessStats.Read(server.Process.Id).RssBytes;
            var connected = clients.Count(c => c is not null);
            results.Add(new IdleResult(system, connected, (rssAfter - rssBefore) / 1024.0 / connected, (heapAfter - heapBefore) / 1024.0 / connected, rssAfter));
            Console.Error.WriteLine($"idle {system,-10} {connected} connections: {results[^1].RssKbPerConnection:N1} KB RSS, {results[^1].HeapKbPerConnection:N1} KB heap per connection");

            await stop.CancelAsync();
            await first.DisposeAsync();
            foreach (var client in clients)
            {
                await client.DisposeAsync();
            }

            await Task.WhenAll(loops);
        }

        return results;
    }

    public static string Markdown(List<IdleResult> results, Options options)
    {
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"## Idle memory per connection ({options.IdleConnections:N0} connections, one subscription each)").AppendLine();
        text.AppendLine("Resident memory (from /proc) and managed heap (the server's own `GC.GetTotalMemory` after a full collection) over a " +
            "one-connection baseline, divided by the number of connections. The stream they subscribe to is quiet.").AppendLine();
        text.AppendLine("| system | connections | KB RSS / connection | KB managed heap / connection | RSS MB |");
        text.AppendLine("|---|---|---|---|---|");
        foreach (var r in results)
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"| {r.System} | {r.Connected:N0} | {r.RssKbPerConnection:N1} | {r.HeapKbPerConnection:N1} | {r.RssBytes / 1048576.0:N0} |");
        }

        if (results.FirstOrDefault(r => r.System == "edgebridge") is { } ours)
        {
            text.AppendLine().AppendLine("Ratios EdgeBridge / peer:").AppendLine();
            text.AppendLine("| peer | RSS / connection | heap / connection |");
            text.AppendLine("|---|---|---|");
            foreach (var peer in results.Where(r => r.System != "edgebridge"))
            {
                text.AppendLine(CultureInfo.InvariantCulture, $"| {peer.System} | {FanOut.Ratio(ours.RssKbPerConnection, peer.RssKbPerConnection)} | {FanOut.Ratio(ours.HeapKbPerConnection, peer.HeapKbPerConnection)} |");
            }
        }

        return text.AppendLine().ToString();
    }
}
