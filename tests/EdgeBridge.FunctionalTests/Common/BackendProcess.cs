namespace EdgeBridge.FunctionalTests.Common;

/// <summary>
/// The real trading backend as a separate process (the build's <c>Trading.Backend.dll</c>), with its own SQLite file
/// and demo data, so that a test can kill it the way a crash would: SIGKILL, no shutdown, no drain.
/// </summary>
public sealed class BackendProcess : IAsyncDisposable
{
    private readonly ChildProcess _process;
    private readonly string _directory;

    private BackendProcess(ChildProcess process, string directory, int restPort, int grpcPort)
    {
        _process = process;
        _directory = directory;
        RestAddress = $"http://127.0.0.1:{restPort}";
        GrpcAddress = $"http://127.0.0.1:{grpcPort}";
    }

    public string RestAddress { get; }

    public string GrpcAddress { get; }

    public int ProcessId => _process.Id;

    /// <summary>The build's binaries of one of the repository's programs, in the test assembly's configuration.</summary>
    public static string Binaries(string project)
    {
        // The same configuration as the test assembly (Debug under ./build.sh test).
        var configuration = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar)).Parent!.Name;
        return Path.Combine(Repository.Root, "src", project, "bin", configuration, "net10.0");
    }

    /// <summary>Starts a replica; <paramref name="settings"/> are added to its command line (e.g. a PostgreSQL store).</summary>
    public static async Task<BackendProcess> StartAsync(IDictionary<string, string?>? settings = null)
    {
        var binaries = Binaries("Trading.Backend");
        var directory = Directory.CreateTempSubdirectory("edgebridge-replica-").FullName;
        var (rest, grpc) = (ChildProcess.FreePort(), ChildProcess.FreePort());
        var arguments = new List<string>
        {
            Path.Combine(binaries, "Trading.Backend.dll"),
            "--environment", "Demo",
            $"--Kestrel:Endpoints:Rest:Url=http://127.0.0.1:{rest}",
            $"--Kestrel:Endpoints:Grpc:Url=http://127.0.0.1:{grpc}",
            $"--Backend:Database:Path={Path.Combine(directory, "trading.db")}",
            $"--Backend:Auth:SigningKey={BackendServer.SigningKey}",
            "--Backend:Market:TickInterval=00:00:00.050",
            "--Logging:LogLevel:Default=Warning",
        };
        arguments.AddRange((settings ?? new Dictionary<string, string?>()).Select(setting => $"--{setting.Key}={setting.Value}"));
        var process = ChildProcess.Start("dotnet", arguments, binaries);
        var backend = new BackendProcess(process, directory, rest, grpc);
        using var http = new HttpClient();
        await process.WaitUntilAsync(async () =>
        {
            try
            {
                return (await http.GetAsync(backend.RestAddress + "/readyz")).IsSuccessStatusCode;
            }
            catch (HttpRequestException)
            {
                return false;
            }
        }, "the backend process is ready");
        return backend;
    }

    /// <summary>SIGSTOP: the process hangs — connections stay open, nothing is answered — until <see cref="ResumeAsync"/>.</summary>
    public Task PauseAsync() => _process.PauseAsync();

    /// <summary>SIGCONT after <see cref="PauseAsync"/>.</summary>
    public Task ResumeAsync() => _process.ResumeAsync();

    /// <summary>SIGKILL: the process ends at once, its sockets reset by the kernel.</summary>
    public Task KillAsync() => _process.KillAsync();

    public async ValueTask DisposeAsync()
    {
        await _process.DisposeAsync();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
            // Left to the OS's temp cleanup.
        }
    }
}
