using System.Data;
using System.Data.Common;
using Microsoft.Extensions.Options;
using Npgsql;
using Trading.Backend.Hosting;

namespace Trading.Backend.Storage.PostgreSql;

/// <summary>
/// The shared store of several backend replicas: one PostgreSQL database. Writers run at READ COMMITTED and
/// take row locks — the account they change, the stream they append to — so that concurrent replicas
/// serialize exactly where they must and nowhere else.
/// </summary>
/// <remarks>
/// Nothing connects in the constructor: a backend whose engine is down at start comes up not ready
/// (<c>/readyz</c> failing, gRPC health NOT_SERVING) and becomes ready once <see cref="CreateSchemaAsync"/> succeeds.
/// </remarks>
internal sealed class PostgresDatabase : Database
{
    /// <summary>Channel of the commit notifications of event streams; the payload is the stream's name.</summary>
    public const string EventsChannel = "edgebridge_events";

    /// <summary>Channel of the market leader's quotes.</summary>
    public const string QuotesChannel = "edgebridge_quotes";

    // pg_advisory_xact_lock keys: any 64-bit numbers no other application in the database uses.
    private const long SchemaLockKey = 0x45_64_67_65_42_72_01;

    // Serialization failures and deadlocks: the transaction did nothing and can run again.
    private const int MaxAttempts = 5;

    private readonly string _contentRoot;

    public PostgresDatabase(IOptions<BackendOptions> options, IHostEnvironment environment)
    {
        var configured = options.Value.Database.ConnectionString;
        if (string.IsNullOrWhiteSpace(configured))
        {
            throw new InvalidOperationException("Backend:Database:ConnectionString is required when Backend:Database:Provider is PostgreSql.");
        }

        var builder = new NpgsqlConnectionStringBuilder(configured);
        var given = new DbConnectionStringBuilder { ConnectionString = configured };
        // A dead server must fail a probe or a request in seconds, not after Npgsql's default 15 s.
        if (!given.ContainsKey("Timeout"))
        {
            builder.Timeout = 5;
        }

        if (!given.ContainsKey("Application Name") && !given.ContainsKey("ApplicationName"))
        {
            builder.ApplicationName = "edgebridge-backend";
        }

        DataSource = NpgsqlDataSource.Create(builder);
        Description = $"PostgreSQL {builder.Host}:{builder.Port}/{builder.Database}";
        _contentRoot = environment.ContentRootPath;
    }

    public NpgsqlDataSource DataSource { get; }

    /// <summary>This process among the replicas: names the market lease's holder and this replica's own notifications.</summary>
    public string ReplicaId { get; } = Guid.NewGuid().ToString("N");

    public override string Description { get; }

    public override string KeyDirectory => Path.Combine(_contentRoot, "data");

    public override async Task CreateSchemaAsync(CancellationToken cancellationToken)
    {
        await using var connection = await DataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        // Replicas starting together: one migrates, the others wait and then find nothing left to do.
        await ExecuteAsync(connection, transaction, "SELECT pg_advisory_xact_lock(@key)", cancellationToken, ("@key", SchemaLockKey));
        await ExecuteAsync(connection, transaction,
            "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
            cancellationToken);
        await using (var current = Command(connection, transaction, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations"))
        {
            var applied = (int)(await current.ExecuteScalarAsync(cancellationToken))!;
            for (var version = applied + 1; version <= Migrations.All.Length; version++)
            {
                await ExecuteAsync(connection, transaction, Migrations.All[version - 1], cancellationToken);
                await ExecuteAsync(connection, transaction, "INSERT INTO schema_migrations (version) VALUES (@version)", cancellationToken, ("@version", version));
            }
        }

        await transaction.CommitAsync(cancellationToken);
    }

    public override async Task<T> WriteAsync<T>(Func<DbConnection, DbTransaction, T> work, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            await using var connection = await DataSource.OpenConnectionAsync(cancellationToken);
            await using var transaction = await connection.BeginTransactionAsync(IsolationLevel.ReadCommitted, cancellationToken);
            try
            {
                var result = work(connection, transaction);
                await transaction.CommitAsync(cancellationToken);
                return result;
            }
            catch (PostgresException ex) when (ex.SqlState is PostgresErrorCodes.SerializationFailure or PostgresErrorCodes.DeadlockDetected && attempt < MaxAttempts)
            {
                // Rolled back on dispose; run the whole transaction again.
            }
        }
    }

    public override long NextSequence(DbConnection connection, DbTransaction transaction, string stream)
    {
        // The row lock the upsert takes is held to commit: the next writer of the stream waits, then reads our value.
        using var next = Command(connection, transaction,
            """
            INSERT INTO streams (stream, last_sequence) VALUES (@stream, 1)
            ON CONFLICT (stream) DO UPDATE SET last_sequence = streams.last_sequence + 1
            RETURNING last_sequence
            """, ("@stream", stream));
        return (long)next.ExecuteScalar()!;
    }

    public override void LockAccount(DbConnection connection, DbTransaction transaction, string accountId) =>
        Execute(connection, transaction, "SELECT 1 FROM accounts WHERE account_id = @account FOR UPDATE", ("@account", accountId));

    // Delivered to every listening replica when, and only if, the transaction commits.
    public override void Appended(DbConnection connection, DbTransaction transaction, string stream) =>
        Execute(connection, transaction, $"SELECT pg_notify('{EventsChannel}', @stream)", ("@stream", stream));

    public override void Dispose() => DataSource.Dispose();

    protected override DbConnection Open() => DataSource.OpenConnection();

    protected override async ValueTask<DbConnection> OpenAsync(CancellationToken cancellationToken) =>
        await DataSource.OpenConnectionAsync(cancellationToken);

    private static async Task ExecuteAsync(DbConnection connection, DbTransaction transaction, string sql, CancellationToken cancellationToken, params (string, object?)[] parameters)
    {
        await using var command = Command(connection, transaction, sql, parameters);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>The schema's versions, applied in order; a released version is never edited, only followed.</summary>
    private static class Migrations
    {
        public static readonly string[] All =
        [
            """
            CREATE TABLE users (
                username      TEXT PRIMARY KEY,
                password_hash TEXT NOT NULL,
                account_id    TEXT NOT NULL UNIQUE
            );
            CREATE TABLE accounts (
                account_id TEXT PRIMARY KEY,
                cash_cents BIGINT NOT NULL CHECK (cash_cents >= 0)
            );
            CREATE TABLE positions (
                account_id TEXT NOT NULL REFERENCES accounts(account_id),
                symbol     TEXT NOT NULL,
                quantity   BIGINT NOT NULL CHECK (quantity >= 0),
                cost_cents BIGINT NOT NULL,
                PRIMARY KEY (account_id, symbol)
            );
            CREATE TABLE orders (
                order_id           TEXT PRIMARY KEY,
                account_id         TEXT NOT NULL REFERENCES accounts(account_id),
                client_order_id    TEXT NOT NULL,
                symbol             TEXT NOT NULL,
                side               INTEGER NOT NULL,
                type               INTEGER NOT NULL,
                quantity           BIGINT NOT NULL,
                limit_price_cents  BIGINT NOT NULL,
                status             INTEGER NOT NULL,
                filled_quantity    BIGINT NOT NULL,
                average_fill_price DOUBLE PRECISION NOT NULL,
                reject_reason      TEXT NOT NULL,
                create_time_ms     BIGINT NOT NULL,
                update_time_ms     BIGINT NOT NULL
            );
            CREATE UNIQUE INDEX orders_client_order_id ON orders (account_id, client_order_id) WHERE client_order_id <> '';
            CREATE INDEX orders_resting ON orders (status, type);
            CREATE TABLE streams (
                stream        TEXT PRIMARY KEY,
                last_sequence BIGINT NOT NULL
            );
            CREATE TABLE events (
                stream         TEXT NOT NULL,
                sequence       BIGINT NOT NULL,
                create_time_ms BIGINT NOT NULL,
                payload        BYTEA NOT NULL,
                PRIMARY KEY (stream, sequence)
            );
            CREATE TABLE quotes (
                symbol   TEXT PRIMARY KEY,
                sequence BIGINT NOT NULL,
                quote    BYTEA NOT NULL
            );
            """,
            """
            CREATE TABLE refresh_tokens (
                token_hash TEXT PRIMARY KEY,
                family_id  TEXT NOT NULL,
                username   TEXT NOT NULL,
                account_id TEXT NOT NULL,
                expires_ms BIGINT NOT NULL,
                used_ms    BIGINT,
                revoked    INTEGER NOT NULL DEFAULT 0
            );
            CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
            CREATE INDEX refresh_tokens_user ON refresh_tokens (username, expires_ms);
            """,
            """
            CREATE TABLE market_lease (
                id        INTEGER PRIMARY KEY CHECK (id = 1),
                holder    TEXT NOT NULL,
                heartbeat TIMESTAMPTZ NOT NULL
            );
            """,
            """
            CREATE TABLE login_failures (
                username        TEXT PRIMARY KEY,
                window_start_ms BIGINT NOT NULL,
                failures        INTEGER NOT NULL
            );
            CREATE INDEX login_failures_window ON login_failures (window_start_ms);
            """,
        ];
    }
}
