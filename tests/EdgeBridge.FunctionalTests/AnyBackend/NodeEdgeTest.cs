using EdgeBridge.FunctionalTests.Common;

namespace EdgeBridge.FunctionalTests.AnyBackend;

/// <summary>
/// An edge in front of the Node.js backend (<see cref="NodeBackend"/>), with a scratch folder for the files a test
/// writes: what the tests of that pairing share, their edge settings and their teardown.
/// </summary>
public abstract class NodeEdgeTest(string name) : IAsyncLifetime
{
    /// <summary>The sample's backend only so that the edge's other clusters have somewhere to point; nothing here calls it.</summary>
    protected BackendServer Sample { get; } = new();

    protected EdgeServer Edge { get; } = new();

    protected string Scratch { get; } = Path.Combine(Path.GetTempPath(), $"edgebridge-{name}-" + Guid.NewGuid().ToString("N")[..8]);

    protected NodeBackend? Node { get; set; }

    /// <summary>A client of the edge's REST listener once <see cref="StartEdgeAsync"/> has run.</summary>
    protected HttpClient Rest { get; private set; } = new();

    public virtual async Task InitializeAsync()
    {
        Directory.CreateDirectory(Scratch);
        await Sample.StartAsync();
    }

    /// <summary>Starts the edge with <paramref name="settings"/>, its upstream gRPC cluster the Node.js backend on <paramref name="port"/>.</summary>
    protected async Task StartEdgeAsync(int port, IDictionary<string, string?> settings)
    {
        await Edge.StartAsync(Sample, new Dictionary<string, string?>(settings)
        {
            ["ReverseProxy:Clusters:backend-grpc:Destinations:backend:Address"] = $"http://127.0.0.1:{port}",
            // The Node server's health is not what these are about, and probes would take it out while it restarts.
            ["ReverseProxy:Clusters:backend-grpc:HealthCheck:Active:Enabled"] = "false",
        });
        Rest.Dispose();
        Rest = new HttpClient { BaseAddress = new Uri(Edge.HttpAddress) };
    }

    public async Task DisposeAsync()
    {
        Rest.Dispose();
        await Edge.DisposeAsync();
        await Sample.DisposeAsync();
        if (Node is not null)
        {
            await Node.DisposeAsync();
        }

        Directory.Delete(Scratch, recursive: true);
    }
}
