using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using EdgeBridge.Benchmarks.Load;
using EdgeBridge.Benchmarks.Servers;

// EdgeBridge benchmark harness (docs/benchmarks.md).
//   run   [--smoke] [--subscribers 1000,5000] [--seconds 10] [--rounds 3] [--report docs/benchmarks.md]
//   serve <system> ...   (internal: one system under test per process, so /proc measures it alone)
if (args.Length > 0 && args[0] == "serve")
{
    return await Systems.ServeAsync(args[1], int.Parse(args[2], CultureInfo.InvariantCulture), int.Parse(args[3], CultureInfo.InvariantCulture), args[4], int.Parse(args[5], CultureInfo.InvariantCulture));
}

var options = Options.Parse(args);
var results = await FanOut.RunAsync(options);
var report = Report.Markdown(options, results);
Console.WriteLine(report);
if (options.ReportPath is not null)
{
    await File.WriteAllTextAsync(options.ReportPath, report);
    await File.WriteAllTextAsync(Path.ChangeExtension(options.ReportPath, ".svg"), Report.Svg(results));
}

// Smoke mode only checks that every system delivered something: numbers from it mean nothing.
var failed = results.Where(r => r.Delivered == 0).Select(r => r.System).Distinct().ToList();
if (failed.Count > 0)
{
    Console.Error.WriteLine("no messages delivered by: " + string.Join(", ", failed));
    return 1;
}

return 0;

internal sealed record Options(bool Smoke, int[] Subscribers, TimeSpan Measure, TimeSpan Warmup, int Rounds, string[] Systems, string? ReportPath)
{
    public static Options Parse(string[] args)
    {
        string? Value(string name) => args.SkipWhile(a => a != name).Skip(1).FirstOrDefault();
        var smoke = args.Contains("--smoke");
        var subscribers = (Value("--subscribers") ?? (smoke ? "20" : "1000,5000")).Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray();
        var seconds = double.Parse(Value("--seconds") ?? (smoke ? "2" : "10"), CultureInfo.InvariantCulture);
        var rounds = int.Parse(Value("--rounds") ?? (smoke ? "1" : "3"), CultureInfo.InvariantCulture);
        var systems = (Value("--systems") ?? "edgebridge,raw,signalr").Split(',');
        return new Options(smoke, subscribers, TimeSpan.FromSeconds(seconds), TimeSpan.FromSeconds(smoke ? 1 : 3), rounds, systems, Value("--report"));
    }
}

internal sealed record RunResult(string System, int Subscribers, int Round, long Delivered, double MessagesPerSecond, double CpuMicrosPerMessage, long RssBytes, int P50Micros, int P99Micros, int P999Micros);

/// <summary>
/// Fan-out: one upstream gRPC stream (4 symbols every 10 ms) to N WebSocket subscribers, every system in the same
/// run, interleaved, for several rounds.
/// </summary>
internal static class FanOut
{
    public static async Task<List<RunResult>> RunAsync(Options options)
    {
        var results = new List<RunResult>();
        var backendGrpc = FreePort();
        var backendRest = FreePort();
        using var backend = Start("backend", 0, backendGrpc, "-", backendRest);
        await WaitForPortAsync(backendGrpc);
        var upstream = $"http://127.0.0.1:{backendGrpc}";
        for (var round = 1; round <= options.Rounds; round++)
        {
            foreach (var subscribers in options.Subscribers)
            {
                foreach (var system in options.Systems)
                {
                    var port = FreePort();
                    using var server = Start(system, port, FreePort(), upstream, backendRest);
                    await WaitForPortAsync(port);
                    var result = await MeasureAsync(system, port, server.Id, subscribers, round, options);
                    results.Add(result);
                    Console.Error.WriteLine($"round {round} {system,-10} n={subscribers,6}: {result.MessagesPerSecond,10:N0} msg/s  p99 {result.P99Micros / 1000.0,8:N1} ms  {result.CpuMicrosPerMessage,6:N2} µs CPU/msg");
                    server.Kill(entireProcessTree: true);
                    await server.WaitForExitAsync();
                }
            }
        }

        backend.Kill(entireProcessTree: true);
        return results;
    }

    private static async Task<RunResult> MeasureAsync(string system, int port, int pid, int subscribers, int round, Options options)
    {
        var (path, subprotocol, hello, marker) = system switch
        {
            "edgebridge" => ("/ws", "edgebridge.v1", new[] { "{\"type\":\"init\"}", "{\"type\":\"subscribe\",\"id\":\"q\",\"method\":\"trading.v1.MarketDataService/StreamQuotes\",\"request\":{}}" }, "\"type\":\"next\""),
            "signalr" => ("/hub", (string?)null, new[] { "{\"protocol\":\"json\",\"version\":1}\u001e", "{\"type\":1,\"target\":\"Join\",\"arguments\":[]}\u001e" }, "\"target\":\"next\""),
            _ => ("/ws", null, Array.Empty<string>(), "\"type\":\"next\""),
        };
        var markerBytes = Encoding.UTF8.GetBytes(marker);
        using var stop = new CancellationTokenSource();
        var clients = new List<LoadClient>(subscribers);
        var loops = new List<Task>(subscribers);
        var sampleEvery = Math.Max(1, subscribers / 50);
        // Connect everyone first (64 handshakes at a time), then subscribe everyone: the connect phase does not
        // have to compete with a growing stream of messages.
        var connected = new LoadClient[subscribers];
        await Parallel.ForAsync(0, subscribers, new ParallelOptions { MaxDegreeOfParallelism = 64 }, async (i, token) =>
        {
            // Spread over 127.0.0.1-8: about 28k ports per source address.
            var local = new IPAddress(new byte[] { 127, 0, 0, (byte)(1 + (i % 8)) });
            connected[i] = await LoadClient.ConnectAsync(local, port, path, subprotocol, sampleEvery, token);
        });
        clients.AddRange(connected);
        foreach (var client in clients)
        {
            loops.Add(Task.Run(() => client.RunAsync(markerBytes, stop.Token)));
        }

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

        var before = ProcessStats.Read(pid);
        var start = clients.Sum(c => c.Messages);
        var clock = Stopwatch.StartNew();
        await Task.Delay(options.Measure);
        var delivered = clients.Sum(c => c.Messages) - start;
        var elapsed = clock.Elapsed;
        var after = ProcessStats.Read(pid);
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
        var latencies = clients.SelectMany(c => c.Latencies).Order().ToArray();
        int Percentile(double p) => latencies.Length == 0 ? 0 : latencies[Math.Min(latencies.Length - 1, (int)(p * latencies.Length))];
        return new RunResult(system, subscribers, round, delivered, delivered / elapsed.TotalSeconds,
            delivered == 0 ? 0 : (after.Cpu - before.Cpu).TotalMicroseconds / delivered, after.RssBytes, Percentile(0.50), Percentile(0.99), Percentile(0.999));
    }

    private static Process Start(string system, int port, int grpcPort, string upstream, int restPort)
    {
        var start = new ProcessStartInfo("dotnet", [typeof(FanOut).Assembly.Location, "serve", system,
            port.ToString(CultureInfo.InvariantCulture), grpcPort.ToString(CultureInfo.InvariantCulture), upstream, restPort.ToString(CultureInfo.InvariantCulture)])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.Environment["DOTNET_gcServer"] = "0";
        var process = Process.Start(start)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) Console.Error.WriteLine($"[{system}] {e.Data}"); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static async Task WaitForPortAsync(int port)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync(IPAddress.Loopback, port);
                return;
            }
            catch (SocketException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(100);
            }
        }
    }
}
