using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using EdgeBridge.Benchmarks.Load;
using EdgeBridge.Benchmarks.Report;

namespace EdgeBridge.Benchmarks.Scenarios;

internal sealed record PollingResult(string Mode, int Round, int Clients, long Updates, double UpdatesPerClientPerSecond, double BytesPerUpdate, double BytesPerPublished,
    int StalenessP50Micros, int StalenessP99Micros, double ServerCpuMicrosPerUpdate);

/// <summary>
/// The classic question, measured: clients following a quote that changes 10 times a second, either by polling
/// the REST route (every second and every 250 ms, with If-None-Match, carrying the headers a browser sends) or
/// with one subscription each. Bytes are counted on the clients' sockets, both directions, headers included;
/// staleness is the age of a new value when the client first sees it; CPU is the edge's plus the backend's.
/// Modes interleaved, several rounds.
/// </summary>
internal static class PollingVsPush
{
    /// <summary>The quote changes every tick: 10 values a second.</summary>
    private static readonly TimeSpan Tick = TimeSpan.FromMilliseconds(100);

    private const string PushJson = "push, JSON frames";
    private const string PushProto = "push, proto frames";

    private static double Published => 1 / Tick.TotalSeconds;

    private static bool IsPush(PollingResult result) => result.Mode is PushJson or PushProto;

    public static async Task<List<PollingResult>> RunAsync(Options options)
    {
        var results = new List<PollingResult>();
        await using var backend = await Harness.StartBackendAsync(Tick, symbols: 1);
        await using var edge = await Harness.StartSystemAsync("edgebridge", backend);
        var token = await LoginAsync(edge.Port);
        for (var round = 1; round <= options.Rounds; round++)
        {
            var modes = new List<Func<Task<PollingResult>>>
            {
                () => PushAsync(edge, backend, options, round, proto: false),
                () => PushAsync(edge, backend, options, round, proto: true),
                () => PollAsync(edge, backend, options, round, TimeSpan.FromSeconds(1), token),
                () => PollAsync(edge, backend, options, round, TimeSpan.FromMilliseconds(250), token),
            };
            foreach (var mode in modes)
            {
                var r = await mode();
                results.Add(r);
                Console.Error.WriteLine($"polling round {round} {r.Mode,-20}: {r.BytesPerUpdate,8:N0} B/update  staleness p50 {r.StalenessP50Micros / 1000.0:N1} ms p99 {r.StalenessP99Micros / 1000.0:N1} ms  {r.ServerCpuMicrosPerUpdate:N1} µs CPU/update");
            }
        }

        return results;
    }

    private static async Task<PollingResult> PushAsync(SystemUnderTest edge, Backend backend, Options options, int round, bool proto)
    {
        var (path, subprotocol, hello, marker) = edge.Protocol("{\"symbols\":[\"AAA\"]}", proto);
        var markerBytes = Encoding.UTF8.GetBytes(marker);
        using var stop = new CancellationTokenSource();
        var staleness = new Latencies();
        var clients = new LoadClient[options.Pollers];
        await Parallel.ForAsync(0, clients.Length, new ParallelOptions { MaxDegreeOfParallelism = 64 }, async (i, token) =>
            clients[i] = await LoadClient.ConnectAsync(Harness.SourceAddress(i), edge.Port, path, subprotocol, 1, staleness, token));
        var loops = clients.Select(c => Task.Run(() => c.RunAsync(markerBytes, stop.Token))).ToList();

        // Steady state on both sides: subscribers have their first value (as pollers have had their first poll)
        // before the window opens.
        foreach (var client in clients)
        {
            foreach (var frame in hello)
            {
                await client.SendTextAsync(frame);
            }
        }

        await Task.Delay(options.Warmup);
        var window = Window.Start(edge, backend, () => clients.Sum(c => c.WireBytes));
        foreach (var client in clients)
        {
            client.Recording = true;
        }

        var messages = clients.Sum(c => c.Messages);
        await Task.Delay(options.Measure);
        var updates = clients.Sum(c => c.Messages) - messages;
        var (bytes, cpu, elapsed) = window.End();
        await stop.CancelAsync();
        foreach (var client in clients)
        {
            client.Recording = false;
            await client.DisposeAsync();
        }

        await Task.WhenAll(loops);
        return new PollingResult(proto ? PushProto : PushJson, round, clients.Length, updates, updates / elapsed.TotalSeconds / clients.Length, updates == 0 ? 0 : bytes / (double)updates,
            bytes / (Published * elapsed.TotalSeconds * clients.Length), staleness.Percentile(50), staleness.Percentile(99), updates == 0 ? 0 : cpu.TotalMicroseconds / updates);
    }

    private static async Task<PollingResult> PollAsync(SystemUnderTest edge, Backend backend, Options options, int round, TimeSpan interval, string token)
    {
        var wire = new WireCounter();
        using var stop = new CancellationTokenSource();
        var recording = false;
        long updates = 0;
        var staleness = new Latencies();
        var pollers = Enumerable.Range(0, options.Pollers).Select(i => Task.Run(async () =>
        {
            using var http = new HttpClient(wire.Handler(i)) { BaseAddress = new Uri($"http://127.0.0.1:{edge.Port}") };
            string? etag = null;
            long lastSequence = -1;
            await Task.Delay(TimeSpan.FromTicks(Random.Shared.NextInt64(interval.Ticks)));
            using var timer = new PeriodicTimer(interval);
            do
            {
                using var request = new HttpRequestMessage(HttpMethod.Get, "/v1/quotes/AAA");
                BrowserHeaders(request.Headers, token);
                if (etag is not null)
                {
                    request.Headers.TryAddWithoutValidation("If-None-Match", etag);
                }

                using var response = await http.SendAsync(request);
                var body = await response.Content.ReadAsByteArrayAsync();
                if (response.StatusCode != System.Net.HttpStatusCode.OK)
                {
                    continue;
                }

                etag = response.Headers.ETag?.ToString();
                using var json = JsonDocument.Parse(body);
                var quote = json.RootElement.GetProperty("quote");
                var sequence = long.Parse(quote.GetProperty("sequence").GetString()!, CultureInfo.InvariantCulture);
                if (sequence > lastSequence && lastSequence >= 0 && Volatile.Read(ref recording))
                {
                    Interlocked.Increment(ref updates);

                    // Every value published since the last poll is reflected now; those skipped were published one
                    // tick apart before this one, so each is that much older.
                    var age = DateTimeOffset.UtcNow - DateTimeOffset.Parse(quote.GetProperty("time").GetString()!, CultureInfo.InvariantCulture);
                    for (var skipped = 0L; skipped < sequence - lastSequence; skipped++)
                    {
                        staleness.Record(age + (Tick * skipped));
                    }
                }

                lastSequence = Math.Max(lastSequence, sequence);
            }
            while (await timer.WaitForNextTickAsync(stop.Token).AsTask().ContinueWith(t => t.IsCompletedSuccessfully && t.Result, TaskScheduler.Default));
        })).ToList();

        await Task.Delay(options.Warmup + interval);
        var window = Window.Start(edge, backend, () => wire.Bytes);
        Volatile.Write(ref recording, true);
        await Task.Delay(options.Measure);
        Volatile.Write(ref recording, false);
        var (bytes, cpu, elapsed) = window.End();
        var observed = Interlocked.Read(ref updates);
        await stop.CancelAsync();
        await Task.WhenAll(pollers);
        return new PollingResult($"poll every {interval.TotalMilliseconds:N0} ms", round, options.Pollers, observed, observed / elapsed.TotalSeconds / options.Pollers,
            observed == 0 ? 0 : bytes / (double)observed, bytes / (Published * elapsed.TotalSeconds * options.Pollers), staleness.Percentile(50), staleness.Percentile(99), observed == 0 ? 0 : cpu.TotalMicroseconds / observed);
    }

    /// <summary>What Chromium sends with a fetch() from the dashboard, bearer token included.</summary>
    private static void BrowserHeaders(HttpRequestHeaders headers, string token)
    {
        headers.TryAddWithoutValidation("Accept", "application/json");
        headers.TryAddWithoutValidation("Accept-Encoding", "gzip, deflate, br, zstd");
        headers.TryAddWithoutValidation("Accept-Language", "en-US,en;q=0.9");
        headers.TryAddWithoutValidation("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36");
        headers.TryAddWithoutValidation("Referer", "http://127.0.0.1/");
        headers.TryAddWithoutValidation("Sec-Fetch-Mode", "cors");
        headers.TryAddWithoutValidation("Sec-Fetch-Site", "same-origin");
        headers.TryAddWithoutValidation("Sec-Fetch-Dest", "empty");
        headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
    }

    private static async Task<string> LoginAsync(int port)
    {
        using var http = new HttpClient();
        using var response = await http.PostAsync($"http://127.0.0.1:{port}/v1/auth/login",
            new StringContent("{\"username\":\"alice\",\"password\":\"wonderland\"}", Encoding.UTF8, "application/json"));
        response.EnsureSuccessStatusCode();
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return json.RootElement.GetProperty("accessToken").GetString()!;
    }

    /// <summary>Medians over rounds per mode, in the order the modes ran.</summary>
    public static List<PollingResult> Medians(List<PollingResult> results) => results
        .GroupBy(r => r.Mode)
        .Select(g => new PollingResult(g.Key, 0, g.First().Clients, (long)Harness.Median(g.Select(r => (double)r.Updates)), Harness.Median(g.Select(r => r.UpdatesPerClientPerSecond)),
            Harness.Median(g.Select(r => r.BytesPerUpdate)), Harness.Median(g.Select(r => r.BytesPerPublished)), (int)Harness.Median(g.Select(r => (double)r.StalenessP50Micros)),
            (int)Harness.Median(g.Select(r => (double)r.StalenessP99Micros)), Harness.Median(g.Select(r => r.ServerCpuMicrosPerUpdate))))
        .ToList();

    public static string Svg(List<PollingResult> results) => Chart.Bars("Bytes on the wire per new value seen (median)", "shorter is better",
        [.. Medians(results).Select(m => new Bar(m.Mode, IsPush(m) ? "push" : "poll", m.BytesPerUpdate, m.BytesPerUpdate.ToString("N0", CultureInfo.InvariantCulture) + " B"))]);

    public static string Markdown(List<PollingResult> all, Options options, string chart)
    {
        var results = Medians(all);
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"## Polling versus push ({options.Pollers:N0} clients following a quote that changes 10 times a second)").AppendLine();
        text.AppendLine("Pollers send `GET /v1/quotes/AAA` through the edge with `If-None-Match` and the headers Chromium sends with a `fetch()` " +
            "(bearer token, user agent, accept, fetch metadata); subscribers hold one subscription each, with JSON `next` frames (the default) or " +
            "binary ones (`\"encoding\":\"proto\"`, what the TypeScript client and the dashboard use). Bytes are everything on the clients' sockets in " +
            "both directions (headers and 304s included), per new value a client saw and per value published (10 a second), in steady state; " +
            "staleness is, for every value published, how old it was when the client first showed it or a newer one; CPU is the edge's plus the " +
            "backend's per new value seen. Medians over rounds, modes interleaved.").AppendLine();
        text.AppendLine(CultureInfo.InvariantCulture, $"![Bytes per value seen]({chart})").AppendLine();
        text.AppendLine("| mode | new values seen / client / s | bytes per value seen | bytes per value published | staleness p50 ms | p99 ms | server CPU µs / value seen |");
        text.AppendLine("|---|---|---|---|---|---|---|");
        foreach (var r in results)
        {
            text.AppendLine(CultureInfo.InvariantCulture,
                $"| {r.Mode} | {r.UpdatesPerClientPerSecond:N1} | {r.BytesPerUpdate:N0} | {r.BytesPerPublished:N0} | {r.StalenessP50Micros / 1000.0:N1} | {r.StalenessP99Micros / 1000.0:N1} | {r.ServerCpuMicrosPerUpdate:N1} |");
        }

        text.AppendLine().AppendLine("Polling / push:").AppendLine();
        text.AppendLine("| mode | against | bytes per value seen | bytes per value published | staleness p50 | staleness p99 | CPU per value seen |");
        text.AppendLine("|---|---|---|---|---|---|---|");
        foreach (var push in results.Where(r => IsPush(r) && r.BytesPerUpdate > 0))
        {
            foreach (var poll in results.Where(r => !IsPush(r)))
            {
                text.AppendLine(CultureInfo.InvariantCulture,
                    $"| {poll.Mode} | {push.Mode} | {FanOut.Ratio(poll.BytesPerUpdate, push.BytesPerUpdate)} | {FanOut.Ratio(poll.BytesPerPublished, push.BytesPerPublished)} | {FanOut.Ratio(poll.StalenessP50Micros, push.StalenessP50Micros)} | {FanOut.Ratio(poll.StalenessP99Micros, push.StalenessP99Micros)} | {FanOut.Ratio(poll.ServerCpuMicrosPerUpdate, push.ServerCpuMicrosPerUpdate)} |");
            }
        }

        return text.AppendLine().ToString();
    }

    /// <summary>Wire bytes and server CPU between two instants.</summary>
    private sealed class Window
    {
        private readonly SystemUnderTest _edge;
        private readonly Backend _backend;
        private readonly Func<long> _bytes;
        private readonly long _bytesBefore;
        private readonly TimeSpan _cpuBefore;
        private readonly Stopwatch _clock = Stopwatch.StartNew();

        private Window(SystemUnderTest edge, Backend backend, Func<long> bytes)
        {
            _edge = edge;
            _backend = backend;
            _bytes = bytes;
            _bytesBefore = bytes();
            _cpuBefore = Cpu();
        }

        public static Window Start(SystemUnderTest edge, Backend backend, Func<long> bytes) => new(edge, backend, bytes);

        public (long Bytes, TimeSpan Cpu, TimeSpan Elapsed) End() => (_bytes() - _bytesBefore, Cpu() - _cpuBefore, _clock.Elapsed);

        private TimeSpan Cpu() => ProcessStats.Read(_edge.Process.Id).Cpu + ProcessStats.Read(_backend.Process.Id).Cpu;
    }
}
