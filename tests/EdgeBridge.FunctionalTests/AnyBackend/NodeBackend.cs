using EdgeBridge.FunctionalTests.Common;

namespace EdgeBridge.FunctionalTests.AnyBackend;

/// <summary>The Node.js gRPC backend (<c>server.cjs</c>, @grpc/grpc-js) serving <c>prices.proto</c> on a free loopback port.</summary>
public sealed class NodeBackend : IAsyncDisposable
{
    private readonly ChildProcess _process;

    private NodeBackend(ChildProcess process, int port) => (_process, Port) = (process, port);

    /// <summary>Where this test output keeps server.cjs, prices.proto and prices.yaml.</summary>
    public static string Folder { get; } = Path.Combine(AppContext.BaseDirectory, "AnyBackend");

    public int Port { get; }

    public string Address => $"http://127.0.0.1:{Port}";

    /// <summary>Starts the server for <paramref name="proto"/> (prices.proto unless given), on <paramref name="port"/> or a free one.</summary>
    public static async Task<NodeBackend> StartAsync(string? proto = null, int port = 0, bool reflection = false)
    {
        var clients = Path.Combine(Repository.Root, "clients");
        string[] arguments = [Path.Combine(Folder, "server.cjs"), proto ?? Path.Combine(Folder, "prices.proto"), port.ToString(System.Globalization.CultureInfo.InvariantCulture)];
        var process = ChildProcess.Start("node", reflection ? [.. arguments, "--reflection"] : arguments, clients,
            new Dictionary<string, string> { ["NODE_PATH"] = Path.Combine(clients, "node_modules") });
        using var timeout = new CancellationTokenSource(Wait.Deadline);
        try
        {
            await foreach (var line in process.Lines.ReadAllAsync(timeout.Token))
            {
                if (line.StartsWith("listening ", StringComparison.Ordinal))
                {
                    return new NodeBackend(process, int.Parse(line["listening ".Length..], System.Globalization.CultureInfo.InvariantCulture));
                }
            }
        }
        catch (OperationCanceledException)
        {
        }

        var tail = process.Tail;
        await process.DisposeAsync();
        throw new Xunit.Sdk.XunitException("The Node.js backend did not start:\n" + tail);
    }

    /// <summary>SIGKILL, as a crash would.</summary>
    public Task KillAsync() => _process.KillAsync();

    public ValueTask DisposeAsync() => _process.DisposeAsync();
}
