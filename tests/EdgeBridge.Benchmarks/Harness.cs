using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace EdgeBridge.Benchmarks;

/// <summary>Starts systems under test as separate processes (so /proc measures each alone) and waits for them.</summary>
internal static class Harness
{
    /// <summary>
    /// Starts <c>serve &lt;system&gt; key=value...</c> in a new process; with <paramref name="cpus"/> (a list for
    /// <c>taskset -c</c>, e.g. "1") every thread of it runs on those cores only.
    /// </summary>
    public static Process Start(string system, IReadOnlyDictionary<string, string> settings, string? cpus = null)
    {
        // The edge serving its streams over HTTP (server-sent events) is the same server.
        system = system is "edgebridge-sse" or "edgebridge-connect" or "edgebridge-grpcweb" ? "edgebridge" : system;
        var arguments = new List<string> { typeof(Harness).Assembly.Location, "serve", system };
        arguments.AddRange(settings.Select(s => $"{s.Key}={s.Value}"));
        if (cpus is not null)
        {
            arguments.InsertRange(0, ["-c", cpus, "dotnet"]);
        }

        var start = new ProcessStartInfo(cpus is null ? "dotnet" : "taskset", arguments)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.Environment["DOTNET_gcServer"] = "0";
        if (system == "edgebridge")
        {
            // What the edge host's runtimeconfig sets (src/EdgeBridge.Host/EdgeBridge.Host.csproj); the harness runs
            // the edge in its own process, whose runtimeconfig is the harness's.
            start.Environment["DOTNET_TC_CallCountingDelayMs"] = "0";
        }

        var process = Process.Start(start)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                Console.Error.WriteLine($"[{system}] {e.Data}");
            }
        };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    /// <summary>A backend whose market moves <paramref name="symbols"/> symbols every <paramref name="tick"/>.</summary>
    public static async Task<Backend> StartBackendAsync(TimeSpan tick, int symbols = 4, string? cpus = null)
    {
        var grpc = FreePort();
        var rest = FreePort();
        var process = Start("backend", new Dictionary<string, string>
        {
            ["grpc"] = Invariant(grpc),
            ["rest"] = Invariant(rest),
            ["tick"] = tick.ToString("c", CultureInfo.InvariantCulture),
            ["symbols"] = Invariant(symbols),
        }, cpus);
        await WaitForPortAsync(grpc);
        await WaitForPortAsync(rest);
        return new Backend(process, grpc, rest);
    }

    /// <summary>Starts a system in front of <paramref name="backend"/> and waits until it listens.</summary>
    public static async Task<SystemUnderTest> StartSystemAsync(string system, Backend backend, string? cpus = null, IReadOnlyDictionary<string, string>? extra = null)
    {
        var port = FreePort();
        var grpc = FreePort();
        var settings = new Dictionary<string, string>
        {
            ["port"] = Invariant(port),
            ["grpc"] = Invariant(grpc),
            ["upstream"] = $"http://127.0.0.1:{backend.GrpcPort}",
            ["rest"] = $"http://127.0.0.1:{backend.RestPort}",
        };
        foreach (var (key, value) in extra ?? new Dictionary<string, string>())
        {
            settings[key] = value;
        }

        var process = Start(system, settings, cpus);
        await WaitForPortAsync(port);
        return new SystemUnderTest(system, process, port, grpc);
    }

    /// <summary>
    /// Confines every thread of this process to <paramref name="cpus"/> (<c>taskset -a -p -c</c>); null gives it every
    /// core again. False when the machine cannot (one core, no taskset).
    /// </summary>
    public static bool PinSelf(string? cpus)
    {
        if (Environment.ProcessorCount < 2 || !File.Exists("/usr/bin/taskset"))
        {
            return false;
        }

        using var taskset = Process.Start(new ProcessStartInfo("taskset", ["-a", "-p", "-c", cpus ?? $"0-{Environment.ProcessorCount - 1}", Invariant(Environment.ProcessId)])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        taskset.WaitForExit();
        return taskset.ExitCode == 0;
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public static async Task WaitForPortAsync(int port)
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

    /// <summary>Spreads client connections over 127.0.0.1–8: about 28k source ports each.</summary>
    public static IPAddress SourceAddress(int client) => new([127, 0, 0, (byte)(1 + (client % 8))]);

    public static string Invariant(int value) => value.ToString(CultureInfo.InvariantCulture);

    /// <summary>The median; with an even count, the mean of the middle two.</summary>
    public static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToList();
        if (sorted.Count == 0)
        {
            return 0;
        }

        var middle = sorted.Count / 2;
        return sorted.Count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
    }
}

internal sealed record Backend(Process Process, int GrpcPort, int RestPort) : IAsyncDisposable
{
    public async ValueTask DisposeAsync()
    {
        Process.Kill(entireProcessTree: true);
        await Process.WaitForExitAsync();
        Process.Dispose();
    }
}

internal sealed record SystemUnderTest(string Name, Process Process, int Port, int GrpcPort) : IAsyncDisposable
{
    /// <summary>
    /// The WebSocket path, subprotocol, frames that subscribe, and what marks a delivered message;
    /// <paramref name="proto"/> asks EdgeBridge for binary <c>next</c> frames.
    /// </summary>
    public (string Path, string? Subprotocol, string[] Hello, string Marker) Protocol(string request = "{}", bool proto = false) => Name switch
    {
        "edgebridge" => ("/ws", "edgebridge.v1",
            ["{\"type\":\"init\"}", "{\"type\":\"subscribe\",\"id\":\"q\",\"method\":\"trading.v1.MarketDataService/StreamQuotes\",\"request\":" + request +
                (proto ? ",\"encoding\":\"proto\"}" : "}")], "\"type\":\"next\""),
        "edgebridge-sse" => ("/stream/trading.v1.MarketDataService/StreamQuotes?request=" + Uri.EscapeDataString(request), null, [], "event: next"),
        // The same stream for clients that speak Connect (JSON) or gRPC-Web (binary): one HTTP/1.1 response each.
        "edgebridge-connect" => ("POST application/connect+json /trading.v1.MarketDataService/StreamQuotes", null, [], ""),
        "edgebridge-grpcweb" => ("POST application/grpc-web+proto /trading.v1.MarketDataService/StreamQuotes", null, [], ""),
        "signalr" => ("/hub", null, ["{\"protocol\":\"json\",\"version\":1}\u001e", "{\"type\":1,\"target\":\"Join\",\"arguments\":[]}\u001e"], "\"target\":\"next\""),
        _ => ("/ws", null, [], "\"type\":\"next\""),
    };

    /// <summary>The managed heap after a full collection, as the process itself reports it.</summary>
    public async Task<long> ManagedHeapAsync()
    {
        using var http = new HttpClient();
        return long.Parse(await http.GetStringAsync($"http://127.0.0.1:{Port}/_bench/heap"), System.Globalization.CultureInfo.InvariantCulture);
    }

    public async ValueTask DisposeAsync()
    {
        Process.Kill(entireProcessTree: true);
        await Process.WaitForExitAsync();
        Process.Dispose();
    }
}
