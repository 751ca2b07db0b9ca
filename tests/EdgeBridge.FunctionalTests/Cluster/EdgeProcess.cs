using EdgeBridge.FunctionalTests.Common;

namespace EdgeBridge.FunctionalTests.Cluster;

/// <summary>
/// The edge host (the build's <c>EdgeBridge.Host.dll</c>) as its own process behind the balancer: both listeners take
/// PROXY protocol, and a restart comes back on the same ports, as a restarted edge behind a fixed address would.
/// </summary>
public sealed class EdgeProcess : IAsyncDisposable
{
    private readonly ChildProcess _process;

    private EdgeProcess(string name, ChildProcess process, int httpPort, int grpcPort)
    {
        Name = name;
        _process = process;
        HttpPort = httpPort;
        GrpcPort = grpcPort;
    }

    public string Name { get; }

    public int HttpPort { get; }

    public int GrpcPort { get; }

    public int ProcessId => _process.Id;

    public bool HasExited => _process.HasExited;

    public static async Task<EdgeProcess> StartAsync(string name, IDictionary<string, string?> settings)
    {
        var binaries = BackendProcess.Binaries("EdgeBridge.Host");
        var (http, grpc) = (ChildProcess.FreePort(), ChildProcess.FreePort());
        var arguments = new List<string>
        {
            Path.Combine(binaries, "EdgeBridge.Host.dll"),
            "--contentRoot", Path.Combine(Repository.Root, "src", "EdgeBridge.Host"),
            $"--Kestrel:Endpoints:Http:Url=http://127.0.0.1:{http}",
            $"--Kestrel:Endpoints:Grpc:Url=http://127.0.0.1:{grpc}",
            "--EdgeBridge:Listeners:Http:ProxyProtocol=true",
            "--EdgeBridge:Listeners:Grpc:ProxyProtocol=true",
            // HAProxy runs on this machine: its connections come from loopback.
            "--EdgeBridge:Listeners:Http:TrustedProxies:0=127.0.0.0/8",
            "--EdgeBridge:Listeners:Grpc:TrustedProxies:0=127.0.0.0/8",
            $"--EdgeBridge:Tokens:SigningKey={BackendServer.SigningKey}",
            "--Logging:LogLevel:Default=Warning",
        };
        arguments.AddRange(settings.Select(setting => $"--{setting.Key}={setting.Value}"));
        var edge = new EdgeProcess(name, ChildProcess.Start("dotnet", arguments, binaries), http, grpc);
        await edge.WaitReadyAsync();
        return edge;
    }

    /// <summary>Ready as the balancer sees it: <c>/readyz</c> answers 200 (a backend answers, not draining).</summary>
    public Task WaitReadyAsync() =>
        _process.WaitUntilAsync(async () => await ProxyHeader.GetStatusAsync(HttpPort, "/readyz") == 200, $"edge {Name} is ready");

    /// <summary>SIGKILL: no drain, every socket reset by the kernel.</summary>
    public Task KillAsync() => _process.KillAsync();

    /// <summary>SIGTERM: the edge drains (goaway, then 1001) and exits.</summary>
    public Task TerminateAsync() => _process.TerminateAsync();

    public Task WaitForExitAsync(CancellationToken cancellationToken = default) => _process.WaitForExitAsync(cancellationToken);

    /// <summary>Starts the edge again on the same ports, once it has exited.</summary>
    public async Task RestartAsync()
    {
        await _process.WaitForExitAsync();
        _process.Restart();
        await WaitReadyAsync();
    }

    public string Tail => _process.Tail;

    public ValueTask DisposeAsync() => _process.DisposeAsync();
}
