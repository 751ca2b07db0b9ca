using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace EdgeBridge.FunctionalTests.Common;

/// <summary>
/// The real trading backend as a separate process (the build's <c>Trading.Backend.dll</c>), with its own SQLite file
/// and demo data, so that a test can kill it the way a crash would: SIGKILL, no shutdown, no drain.
/// </summary>
public sealed class BackendProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly string _directory;

    private BackendProcess(Process process, string directory, int restPort, int grpcPort)
    {
        _process = process;
        _directory = directory;
        RestAddress = $"http://127.0.0.1:{restPort}";
        GrpcAddress = $"http://127.0.0.1:{grpcPort}";
    }

    public string RestAddress { get; }

    public string GrpcAddress { get; }

    public int ProcessId => _process.Id;

    /// <summary>Starts a replica; <paramref name="settings"/> are added to its command line (e.g. a PostgreSQL store).</summary>
    public static async Task<BackendProcess> StartAsync(IDictionary<string, string?>? settings = null)
    {
        // The same configuration as the test assembly (Debug under ./build.sh test).
        var configuration = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar)).Parent!.Name;
        var binaries = Path.Combine(Repository.Root, "src", "Trading.Backend", "bin", configuration, "net10.0");
        var directory = Directory.CreateTempSubdirectory("edgebridge-replica-").FullName;
        var (rest, grpc) = (FreePort(), FreePort());
        var start = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = binaries,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var argument in new[]
        {
            Path.Combine(binaries, "Trading.Backend.dll"),
            "--environment", "Demo",
            $"--Kestrel:Endpoints:Rest:Url=http://127.0.0.1:{rest}",
            $"--Kestrel:Endpoints:Grpc:Url=http://127.0.0.1:{grpc}",
            $"--Backend:Database:Path={Path.Combine(directory, "trading.db")}",
            $"--Backend:Auth:SigningKey={BackendServer.SigningKey}",
            "--Backend:Market:TickInterval=00:00:00.050",
            "--Logging:LogLevel:Default=Warning",
        })
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            start.ArgumentList.Add($"--{key}={value}");
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException("Could not start the backend.");
        process.OutputDataReceived += static (_, _) => { };
        process.ErrorDataReceived += static (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var backend = new BackendProcess(process, directory, rest, grpc);
        using var http = new HttpClient();
        await Wait.UntilAsync(async () =>
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"The backend exited with {process.ExitCode} before it was ready.");
            }

            try
            {
                return (await http.GetAsync(backend.RestAddress + "/readyz")).IsSuccessStatusCode;
            }
            catch (HttpRequestException)
            {
                return false;
            }
        }, "the backend process is ready", TimeSpan.FromSeconds(60));
        return backend;
    }

    /// <summary>SIGSTOP: the process hangs — connections stay open, nothing is answered — until <see cref="ResumeAsync"/>.</summary>
    public Task PauseAsync() => SignalAsync("STOP");

    /// <summary>SIGCONT after <see cref="PauseAsync"/>.</summary>
    public Task ResumeAsync() => SignalAsync("CONT");

    /// <summary>SIGKILL: the process ends at once, its sockets reset by the kernel.</summary>
    public async Task KillAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
        }

        await _process.WaitForExitAsync();
    }

    public async ValueTask DisposeAsync()
    {
        // A paused process takes SIGKILL too.
        await KillAsync();
        _process.Dispose();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
            // Left to the OS's temp cleanup.
        }
    }

    private async Task SignalAsync(string signal)
    {
        using var kill = Process.Start("kill", ["-" + signal, _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        await kill.WaitForExitAsync();
        Assert.Equal(0, kill.ExitCode);
    }

    // A port the OS has just handed out and released; the backend binds it a moment later.
    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
