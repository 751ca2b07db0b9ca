using EdgeBridge.FunctionalTests.Common;
using EdgeBridge.Testing;
using Npgsql;

namespace EdgeBridge.FunctionalTests.Replicas;

/// <summary>
/// Two backend replicas on one PostgreSQL database behind the edge: replica B a process the test can kill, started
/// first so that it holds the market lease; replica A in process, where the test sees every call it serves.
/// </summary>
public sealed class PostgresReplicas(PostgresServer postgres) : StackFixture
{
    private BackendProcess? _replicaB;

    public PostgresServer Postgres => postgres;

    public string ConnectionString { get; private set; } = "";

    public BackendProcess ReplicaB => _replicaB!;

    protected override IDictionary<string, string?> BackendSettings => Replica("replica-a");

    // Limits that fit a hundred test subscribers from one address, besides the second destination's.
    protected override IDictionary<string, string?> EdgeSettings =>
        new Dictionary<string, string?>(ReplicaEdgeSettings.SecondDestination("replica-b", ReplicaB.RestAddress, ReplicaB.GrpcAddress))
        {
            ["EdgeBridge:WebSockets:MaxConnectionsPerAddress"] = "500",
            ["EdgeBridge:Upstream:MaxCallsPerAddress"] = "2000",
            ["EdgeBridge:Upstream:MaxCallsPerUser"] = "2000",
        };

    public override async Task InitializeAsync()
    {
        ConnectionString = await postgres.CreateDatabaseAsync();
        _replicaB = await BackendProcess.StartAsync(Replica("replica-b"));
        // B has no rival yet: it takes the market lease as it starts.
        await Wait.UntilAsync(async () => await MarketLeaderAsync() == "replica-b", "replica B leads the market");
        await base.InitializeAsync();
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await ReplicaB.DisposeAsync();
    }

    /// <summary>The application name of the session that holds the market lease (an advisory lock), or null.</summary>
    public async Task<string?> MarketLeaderAsync()
    {
        await using var connection = new NpgsqlConnection(ConnectionString + ";Pooling=false");
        await connection.OpenAsync();
        await using var query = new NpgsqlCommand(
            """
            SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
            WHERE l.locktype = 'advisory' AND l.granted AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
            """, connection);
        return await query.ExecuteScalarAsync() as string;
    }

    /// <summary>The last committed sequence of every event stream, read from the engine itself.</summary>
    public Task<Dictionary<string, long>> CommittedAsync() => Committed.StreamsAsync(ConnectionString);

    private Dictionary<string, string?> Replica(string name) => new()
    {
        ["Backend:Database:Provider"] = "PostgreSql",
        ["Backend:Database:ConnectionString"] = ConnectionString + ";Application Name=" + name,
        ["Backend:Database:RetryInterval"] = "00:00:00.200",
    };
}
