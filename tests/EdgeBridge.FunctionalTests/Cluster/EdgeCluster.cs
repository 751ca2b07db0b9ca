using System.Net.Http.Json;
using System.Text.Json;
using EdgeBridge.FunctionalTests.Common;
using EdgeBridge.FunctionalTests.Replicas;
using EdgeBridge.Testing;

namespace EdgeBridge.FunctionalTests.Cluster;

/// <summary>
/// What <c>./build.sh cluster</c> runs, as real processes on ports of their own: two backend replicas on one
/// PostgreSQL database, two edges in front of both, and HAProxy in front of the edges with the repository's
/// configuration. Every process can be killed, stopped or restarted by a test.
/// </summary>
public sealed class EdgeCluster(PostgresServer postgres) : IAsyncDisposable
{
    private readonly List<IAsyncDisposable> _started = [];

    public string ConnectionString { get; private set; } = "";

    public BackendProcess ReplicaA { get; private set; } = null!;

    public BackendProcess ReplicaB { get; private set; } = null!;

    public EdgeProcess Edge1 { get; private set; } = null!;

    public EdgeProcess Edge2 { get; private set; } = null!;

    public HaproxyProcess Balancer { get; private set; } = null!;

    /// <summary>REST through the balancer, as a browser calls it.</summary>
    public HttpClient Rest { get; private set; } = null!;

    /// <summary>The edges' drain period: a SIGTERMed edge tells its clients to move within it.</summary>
    public static readonly TimeSpan DrainPeriod = TimeSpan.FromSeconds(4);

    /// <summary>Starts everything; what started is stopped again when a part fails to start (xunit does not dispose then).</summary>
    public async Task StartAsync()
    {
        try
        {
            await StartAllAsync();
        }
        catch
        {
            await DisposeAsync();
            throw;
        }
    }

    private async Task StartAllAsync()
    {
        ConnectionString = await postgres.CreateDatabaseAsync();
        ReplicaA = Keep(await BackendProcess.StartAsync(Replica("replica-a")));
        ReplicaB = Keep(await BackendProcess.StartAsync(Replica("replica-b")));
        var edge = new Dictionary<string, string?>(ReplicaEdgeSettings.SecondDestination("replica-b", ReplicaB.RestAddress, ReplicaB.GrpcAddress))
        {
            ["ReverseProxy:Clusters:backend-rest:Destinations:backend:Address"] = ReplicaA.RestAddress,
            ["ReverseProxy:Clusters:backend-grpc:Destinations:backend:Address"] = ReplicaA.GrpcAddress,
            ["EdgeBridge:WebSockets:DrainPeriod"] = DrainPeriod.ToString(),
            ["HostOptions:ShutdownTimeout"] = "00:00:15",
        };
        Edge1 = Keep(await EdgeProcess.StartAsync("edge1", edge));
        Edge2 = Keep(await EdgeProcess.StartAsync("edge2", edge));
        Balancer = Keep(await HaproxyProcess.StartAsync(Edge1, Edge2));
        Rest = new HttpClient { BaseAddress = new Uri(Balancer.HttpAddress), Timeout = TimeSpan.FromSeconds(30) };
    }

    public async Task<Session> LoginAsync(string username = "alice", string password = "wonderland")
    {
        using var response = await Rest.PostAsJsonAsync("/v1/auth/login", new { username, password });
        response.EnsureSuccessStatusCode();
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return new Session(json.RootElement.GetProperty("accessToken").GetString()!, json.RootElement.GetProperty("accountId").GetString()!);
    }

    /// <summary>The last committed sequence of every event stream, read from the engine itself.</summary>
    public Task<Dictionary<string, long>> CommittedAsync() => Committed.StreamsAsync(ConnectionString);

    public async ValueTask DisposeAsync()
    {
        Rest?.Dispose();
        for (var i = _started.Count - 1; i >= 0; i--)
        {
            await _started[i].DisposeAsync();
        }
    }

    private T Keep<T>(T process)
        where T : IAsyncDisposable
    {
        _started.Add(process);
        return process;
    }

    private Dictionary<string, string?> Replica(string name) => new()
    {
        ["Backend:Database:Provider"] = "PostgreSql",
        ["Backend:Database:ConnectionString"] = ConnectionString + ";Application Name=" + name,
        ["Backend:Database:RetryInterval"] = "00:00:00.200",

        // The fleet's 300 clients live in one node process and all follow ACME: at the replicas' usual 50 ms tick that is
        // 6,000 messages a second into one event loop on a shared 2-core machine, which then answers its control channel
        // late. Four ticks a second still show quotes continuing across every move.
        ["Backend:Market:TickInterval"] = "00:00:00.250",
    };
}
