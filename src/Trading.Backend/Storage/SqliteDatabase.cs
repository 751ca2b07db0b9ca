using System.Data.Common;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Options;
using Trading.Backend.Hosting;

namespace Trading.Backend.Storage;

/// <summary>
/// The embedded store: one SQLite file in WAL mode. Writes are serialized in process (SQLite allows one writer
/// anyway), so a stream's next sequence is simply the largest one plus one, and account locks are not needed.
/// </summary>
internal sealed class SqliteDatabase : Database
{
    private readonly string _connectionString;
    private readonly SemaphoreSlim _writeLock = new(1, 1);

    public SqliteDatabase(IOptions<BackendOptions> options, IHostEnvironment environment)
    {
        var path = options.Value.Database.Path;
        if (!System.IO.Path.IsPathRooted(path))
        {
            path = System.IO.Path.Combine(environment.ContentRootPath, path);
        }

        FilePath = System.IO.Path.GetFullPath(path);
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(FilePath)!);
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = FilePath,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Cache = SqliteCacheMode.Private,
            Pooling = true,
            DefaultTimeout = 30,
        }.ToString();

        // A local file is there at once: the schema is created before the first request can arrive.
        using var connection = Open();
        Execute(connection, null, Schema);
    }

    public string FilePath { get; }

    public override string Description => FilePath;

    public override string KeyDirectory => System.IO.Path.GetDirectoryName(FilePath)!;

    public override Task CreateSchemaAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public override async Task<T> WriteAsync<T>(Func<DbConnection, DbTransaction, T> work, CancellationToken cancellationToken)
    {
        await _writeLock.WaitAsync(cancellationToken);
        try
        {
            using var connection = Open();
            using var transaction = connection.BeginTransaction();
            var result = work(connection, transaction);
            transaction.Commit();
            return result;
        }
        finally
        {
            _writeLock.Release();
        }
    }

    public override long NextSequence(DbConnection connection, DbTransaction transaction, string stream)
    {
        using var next = Command(connection, transaction,
            "SELECT COALESCE(MAX(sequence), 0) + 1 FROM events WHERE stream = @stream", ("@stream", stream));
        return (long)next.ExecuteScalar()!;
    }

    // The write lock already makes every write transaction exclusive.
    public override void LockAccount(DbConnection connection, DbTransaction transaction, string accountId)
    {
    }

    public override void Dispose()
    {
        _writeLock.Dispose();
        SqliteConnection.ClearAllPools();
    }

    protected override DbConnection Open()
    {
        var connection = new SqliteConnection(_connectionString);
        connection.Open();
        Execute(connection, null, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; PRAGMA busy_timeout=30000;");
        return connection;
    }

    protected override ValueTask<DbConnection> OpenAsync(CancellationToken cancellationToken) => ValueTask.FromResult(Open());

    private const string Schema = """
        CREATE TABLE IF NOT EXISTS users (
            username      TEXT PRIMARY KEY,
            password_hash TEXT NOT NULL,
            account_id    TEXT NOT NULL UNIQUE
        );
        CREATE TABLE IF NOT EXISTS accounts (
            account_id TEXT PRIMARY KEY,
            cash_cents INTEGER NOT NULL CHECK (cash_cents >= 0)
        );
        CREATE TABLE IF NOT EXISTS positions (
            account_id TEXT NOT NULL REFERENCES accounts(account_id),
            symbol     TEXT NOT NULL,
            quantity   INTEGER NOT NULL CHECK (quantity >= 0),
            cost_cents INTEGER NOT NULL,
            PRIMARY KEY (account_id, symbol)
        ) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS orders (
            order_id           TEXT PRIMARY KEY,
            account_id         TEXT NOT NULL REFERENCES accounts(account_id),
            client_order_id    TEXT NOT NULL,
            symbol             TEXT NOT NULL,
            side               INTEGER NOT NULL,
            type               INTEGER NOT NULL,
            quantity           INTEGER NOT NULL,
            limit_price_cents  INTEGER NOT NULL,
            status             INTEGER NOT NULL,
            filled_quantity    INTEGER NOT NULL,
            average_fill_price REAL NOT NULL,
            reject_reason      TEXT NOT NULL,
            create_time_ms     INTEGER NOT NULL,
            update_time_ms     INTEGER NOT NULL
        );
        CREATE UNIQUE INDEX IF NOT EXISTS orders_client_order_id
            ON orders (account_id, client_order_id) WHERE client_order_id <> '';
        CREATE INDEX IF NOT EXISTS orders_resting ON orders (status, type);
        CREATE TABLE IF NOT EXISTS events (
            stream         TEXT NOT NULL,
            sequence       INTEGER NOT NULL,
            create_time_ms INTEGER NOT NULL,
            payload        BLOB NOT NULL,
            PRIMARY KEY (stream, sequence)
        ) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS refresh_tokens (
            token_hash TEXT PRIMARY KEY,
            family_id  TEXT NOT NULL,
            username   TEXT NOT NULL,
            account_id TEXT NOT NULL,
            expires_ms INTEGER NOT NULL,
            used_ms    INTEGER,
            revoked    INTEGER NOT NULL DEFAULT 0
        ) WITHOUT ROWID;
        CREATE INDEX IF NOT EXISTS refresh_tokens_family ON refresh_tokens (family_id);
        CREATE INDEX IF NOT EXISTS refresh_tokens_user ON refresh_tokens (username, expires_ms);
        CREATE TABLE IF NOT EXISTS login_failures (
            username        TEXT PRIMARY KEY,
            window_start_ms INTEGER NOT NULL,
            failures        INTEGER NOT NULL
        ) WITHOUT ROWID;
        CREATE INDEX IF NOT EXISTS login_failures_window ON login_failures (window_start_ms);
        """;
}
