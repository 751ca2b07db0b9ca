using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using EdgeBridge.Benchmarks.Load;

namespace EdgeBridge.Benchmarks.Scenarios;

internal sealed record StormResult(string System, int Round, int Clients, int Resubscribed, int GaveUp, double P50Ms, double P99Ms, double AllMs,
    int Refusals, int RefusedClients, double CpuSeconds, double PeakCores, double PeakRssMb, double RssGrowthMb);

/// <summary>
/// A reconnect storm: N clients follow a shared stream on one server, which is killed (SIGKILL); all of them reconnect
/// at once to the survivor, as a balancer would send them, each under its client's reconnect policy — EdgeBridge's
/// TypeScript client (full jitter from 250 ms up to 10 s, and never before a refusal's Retry-After) against the
/// survivor's shipped admission rate; SignalR's JavaScript client (WithAutomaticReconnect: 0, 2, 10, 30 s, then
/// it gives up) against a SignalR hub, which admits everyone. Measured: the time from the kill until each client has
/// a message again, the survivor's CPU and memory over the storm, and whether anyone was left without a connection.
/// </summary>
internal static class Storm
{
    private static readonly TimeSpan s_deadline = TimeSpan.FromMinutes(2);
    private static readonly int[] s_signalRDelays = [0, 2000, 10000, 30000];

    public static async Task<List<StormResult>> RunAsync(Options options)
    {
        var results = new List<StormResult>();
        await using var backend = await Harness.StartBackendAsync(TimeSpan.FromMilliseconds(100));
        for (var round = 1; round <= options.Rounds; round++)
        {
            foreach (var system in options.Systems.Where(s => s is "edgebridge" or "signalr"))
            {
                var result = await MeasureAsync(system, round, backend, options.StormClients);
                results.Add(result);
                Console.Error.WriteLine($"storm round {round} {system,-10} {result.Resubscribed}/{result.Clients} back after {result.AllMs:N0} ms (p50 {result.P50Ms:N0}), " +
                    $"{result.GaveUp} gave up, {result.Refusals} refusals, survivor {result.CpuSeconds:N1} CPU s, peak {result.PeakCores:N2} cores, {result.PeakRssMb:N0} MB RSS");
            }
        }

        return results;
    }

    private static async Task<StormResult> MeasureAsync(string system, int round, Backend backend, int count)
    {
        // The doomed server admits its clients as fast as they come (it is not what is measured); the survivor
        // runs with the shipped admission rate.
        await using var doomed = await Harness.StartSystemAsync(system, backend, extra: new Dictionary<string, string> { ["handshakes"] = "1000000" });
        await using var survivor = await Harness.StartSystemAsync(system, backend, extra: new Dictionary<string, string> { ["handshakes"] = "2000" });
        var (path, subprotocol, hello, marker) = doomed.Protocol();
        var markerBytes = Encoding.UTF8.GetBytes(marker);
        using var stop = new CancellationTokenSource();

        var clients = new LoadClient[count];
        await Parallel.ForAsync(0, count, new ParallelOptions { MaxDegreeOfParallelism = 64 }, async (i, token) =>
        {
            clients[i] = await LoadClient.ConnectAsync(Harness.SourceAddress(i), doomed.Port, path, subprotocol, int.MaxValue, null, token);
            foreach (var frame in hello)
            {
                await clients[i].SendTextAsync(frame);
            }
        });
        var loops = clients.Select(c => Task.Run(() => c.RunAsync(markerBytes, stop.Token))).ToArray();
        await Task.WhenAll(clients.Select(c => c.FirstMessage)).WaitAsync(s_deadline);
        await Task.Delay(TimeSpan.FromSeconds(1));

        var baseline = ProcessStats.Read(survivor.Process.Id);
        var refusals = 0;
        var refusedClients = 0;
        var back = new ConcurrentBag<double>();
        var gaveUp = 0;
        var replacements = new ConcurrentBag<LoadClient>();
        // The load generator's own bound on handshakes in flight; a thousand browsers' worth at once.
        using var connecting = new SemaphoreSlim(1024);
        var storm = Stopwatch.StartNew();
        doomed.Process.Kill(entireProcessTree: true);

        using var sampling = new CancellationTokenSource();
        var sampler = Task.Run(async () =>
        {
            var (peakCores, peakRss, last, lastAt) = (0.0, baseline.RssBytes, baseline, storm.Elapsed);
            while (!sampling.IsCancellationRequested)
            {
                await Task.Delay(250, CancellationToken.None);
                var now = ProcessStats.Read(survivor.Process.Id);
                var at = storm.Elapsed;
                peakCores = Math.Max(peakCores, (now.Cpu - last.Cpu) / (at - lastAt));
                peakRss = Math.Max(peakRss, now.RssBytes);
                (last, lastAt) = (now, at);
            }

            return (peakCores, peakRss);
        });

        await Task.WhenAll(Enumerable.Range(0, count).Select(i => Task.Run(async () =>
        {
            // The connection is gone when its read loop ends.
            await loops[i];
            await clients[i].DisposeAsync();
            var refused = false;
            int? retryAfter = null;
            for (var attempt = 0; storm.Elapsed < s_deadline; attempt++)
            {
                var delay = Delay(system, attempt, retryAfter);
                if (delay is not { } wait)
                {
                    Interlocked.Increment(ref gaveUp);
                    return;
                }

                await Task.Delay(wait);
                await connecting.WaitAsync();
                try
                {
                    var client = await LoadClient.ConnectAsync(Harness.SourceAddress(i), survivor.Port, path, subprotocol, int.MaxValue, null, CancellationToken.None);
                    replacements.Add(client);
                    _ = Task.Run(() => client.RunAsync(markerBytes, stop.Token));
                    foreach (var frame in hello)
                    {
                        await client.SendTextAsync(frame);
                    }

                    await client.FirstMessage.WaitAsync(s_deadline);
                    back.Add(storm.Elapsed.TotalMilliseconds);
                    return;
                }
                catch (UpgradeRefusedException ex)
                {
                    Interlocked.Increment(ref refusals);
                    if (!refused)
                    {
                        refused = true;
                        Interlocked.Increment(ref refusedClients);
                    }

                    retryAfter = ex.RetryAfterSeconds;
                }
                catch (Exception ex) when (ex is IOException or System.Net.Sockets.SocketException or TimeoutException)
                {
                    retryAfter = null;
                }
                finally
                {
                    connecting.Release();
                }
            }

            Interlocked.Increment(ref gaveUp);
        })));
        var all = storm.Elapsed;
        var cpu = ProcessStats.Read(survivor.Process.Id).Cpu - baseline.Cpu;
        await sampling.CancelAsync();
        var (cores, rss) = await sampler;

        await stop.CancelAsync();
        foreach (var client in clients.Concat(replacements))
        {
            await client.DisposeAsync();
        }

        var times = back.Order().ToList();
        return new StormResult(system, round, count, times.Count, gaveUp, Percentile(times, 0.5), Percentile(times, 0.99), all.TotalMilliseconds,
            refusals, refusedClients, cpu.TotalSeconds, cores, rss / 1048576.0, (rss - baseline.RssBytes) / 1048576.0);
    }

    /// <summary>How long a client waits before attempt <paramref name="attempt"/>; null when its policy gives up.</summary>
    private static TimeSpan? Delay(string system, int attempt, int? retryAfterSeconds)
    {
        if (system == "signalr")
        {
            return attempt < s_signalRDelays.Length ? TimeSpan.FromMilliseconds(s_signalRDelays[attempt]) : null;
        }

        // clients/src/retry.ts: fullJitter(attempt, 250, 10000), never before Retry-After.
        var ceiling = Math.Min(10_000, 250 * Math.Pow(2, Math.Min(attempt, 30)));
        var jitter = Random.Shared.NextDouble() * ceiling;
        return TimeSpan.FromMilliseconds(Math.Max(jitter, (retryAfterSeconds ?? 0) * 1000.0));
    }

    private static double Percentile(List<double> sorted, double p) => sorted.Count == 0 ? double.NaN : sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(p * sorted.Count) - 1)];

    public static List<StormResult> Medians(List<StormResult> results) => results
        .GroupBy(r => r.System)
        .Select(g => new StormResult(g.Key, 0, g.First().Clients, (int)Harness.Median(g.Select(r => (double)r.Resubscribed)), (int)Harness.Median(g.Select(r => (double)r.GaveUp)),
            Harness.Median(g.Select(r => r.P50Ms)), Harness.Median(g.Select(r => r.P99Ms)), Harness.Median(g.Select(r => r.AllMs)),
            (int)Harness.Median(g.Select(r => (double)r.Refusals)), (int)Harness.Median(g.Select(r => (double)r.RefusedClients)),
            Harness.Median(g.Select(r => r.CpuSeconds)), Harness.Median(g.Select(r => r.PeakCores)), Harness.Median(g.Select(r => r.PeakRssMb)),
            Harness.Median(g.Select(r => r.RssGrowthMb))))
        .ToList();

    public static string Markdown(List<StormResult> results, Options options)
    {
        var medians = Medians(results);
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"## Reconnect storm: {options.StormClients:N0} clients lose their server at once").AppendLine();
        text.AppendLine("Every client follows StreamQuotes (shared) on one server, which is killed (SIGKILL); each then reconnects to the survivor " +
            "under its own client's policy: EdgeBridge's TypeScript client (full jitter, 250 ms doubling to 10 s, never before a refusal's " +
            "`Retry-After`) against the survivor's shipped admission rate (`WebSockets:Handshakes`, 2000/s); SignalR's JavaScript client " +
            "(`withAutomaticReconnect()`: 0, 2, 10 and 30 s, then it stops) against a hub that admits everyone. Back = the first message " +
            "after the reconnect, timed from the kill; the load generator keeps at most 1,024 handshakes in flight. CPU is the survivor's user+system time from the kill until the last client was back; " +
            "peaks are over 250 ms windows. Medians over rounds.").AppendLine();
        text.AppendLine("| system | clients | back | gave up | p50 ms | p99 ms | all back ms | refusals (clients) | survivor CPU s | peak cores | peak RSS MB | RSS growth MB |");
        text.AppendLine("|---|---|---|---|---|---|---|---|---|---|---|---|");
        foreach (var r in medians)
        {
            text.AppendLine(CultureInfo.InvariantCulture,
                $"| {r.System} | {r.Clients:N0} | {r.Resubscribed:N0} | {r.GaveUp:N0} | {r.P50Ms:N0} | {r.P99Ms:N0} | {r.AllMs:N0} | {r.Refusals:N0} ({r.RefusedClients:N0}) | {r.CpuSeconds:N1} | {r.PeakCores:N2} | {r.PeakRssMb:N0} | {r.RssGrowthMb:N0} |");
        }

        if (medians.FirstOrDefault(r => r.System == "edgebridge") is { } ours && medians.FirstOrDefault(r => r.System == "signalr") is { } peer)
        {
            text.AppendLine().AppendLine(CultureInfo.InvariantCulture,
                $"EdgeBridge / SignalR: all back {FanOut.Ratio(ours.AllMs, peer.AllMs)}×, p50 {FanOut.Ratio(ours.P50Ms, peer.P50Ms)}×, survivor CPU {FanOut.Ratio(ours.CpuSeconds, peer.CpuSeconds)}×, " +
                $"peak cores {FanOut.Ratio(ours.PeakCores, peer.PeakCores)}×, peak RSS {FanOut.Ratio(ours.PeakRssMb, peer.PeakRssMb)}×.");
        }

        return text.AppendLine().ToString();
    }
}
