using System.Data.Common;

namespace Trading.Backend.Storage;

/// <summary>
/// The backend's store of users, accounts, orders and event streams, over ADO.NET so that one set of SQL
/// statements runs on the embedded SQLite file and on a shared PostgreSQL server.
/// </summary>
/// <remarks>
/// The statements are written in the SQL both engines understand (named <c>@parameters</c>,
/// <c>ON CONFLICT</c>, partial indexes); what differs — how a write is serialized, how a stream's next
/// sequence is taken, how other replicas learn of a commit — is what a provider implements.
/// </remarks>
internal abstract class Database : IDisposable
{
    private volatile bool _ready;

    /// <summary>Where the data lives, for the startup log.</summary>
    public abstract string Description { get; }

    /// <summary>The directory beside the data where Development and Demo keep a generated signing key.</summary>
    public abstract string KeyDirectory { get; }

    /// <summary>True once the schema is in place (and demo data seeded); until then the backend is not ready.</summary>
    public bool IsReady => _ready;

    /// <summary>Creates or migrates the schema; safe to run from several replicas at once.</summary>
    public abstract Task CreateSchemaAsync(CancellationToken cancellationToken);

    public void MarkReady() => _ready = true;

    /// <summary>Runs <paramref name="work"/> in one write transaction; any exception rolls everything back.</summary>
    /// <remarks>The provider may run <paramref name="work"/> again when the engine reports a serialization failure.</remarks>
    public abstract Task<T> WriteAsync<T>(Func<DbConnection, DbTransaction, T> work, CancellationToken cancellationToken);

    public T Read<T>(Func<DbConnection, T> work)
    {
        using var connection = Open();
        return work(connection);
    }

    public async Task<T> ReadAsync<T>(Func<DbConnection, CancellationToken, Task<T>> work, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        return await work(connection, cancellationToken);
    }

    /// <summary>Takes the next sequence of <paramref name="stream"/> inside the appending transaction.</summary>
    /// <remarks>
    /// A second writer of the same stream waits until the first commits, so sequences become visible in order:
    /// a reader never sees 6 before 5.
    /// </remarks>
    public abstract long NextSequence(DbConnection connection, DbTransaction transaction, string stream);

    /// <summary>Holds <paramref name="accountId"/> for the rest of the transaction, so that checks and changes of its cash and positions cannot interleave.</summary>
    public abstract void LockAccount(DbConnection connection, DbTransaction transaction, string accountId);

    /// <summary>Called inside a transaction that appended to <paramref name="stream"/>; lets other replicas learn of it on commit.</summary>
    public virtual void Appended(DbConnection connection, DbTransaction transaction, string stream)
    {
    }

    /// <summary>
    /// True when <paramref name="ex"/> means the engine could not be reached or could not take the work now —
    /// a refused or broken connection, a server shutting down or starting up, too many connections, a timeout —
    /// rather than that the statement is wrong. Npgsql and Microsoft.Data.Sqlite both classify their errors so.
    /// </summary>
    public static bool IsUnavailable(DbException ex) =>
        ex.IsTransient || ex.InnerException is IOException or System.Net.Sockets.SocketException or TimeoutException;

    public static int Execute(DbConnection connection, DbTransaction? transaction, string sql, params (string Name, object? Value)[] parameters)
    {
        using var command = Command(connection, transaction, sql, parameters);
        return command.ExecuteNonQuery();
    }

    public static DbCommand Command(DbConnection connection, DbTransaction? transaction, string sql, params (string Name, object? Value)[] parameters)
    {
        var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            var parameter = command.CreateParameter();
            parameter.ParameterName = name;
            parameter.Value = value ?? DBNull.Value;
            command.Parameters.Add(parameter);
        }

        return command;
    }

    public abstract void Dispose();

    protected abstract DbConnection Open();

    protected abstract ValueTask<DbConnection> OpenAsync(CancellationToken cancellationToken);
}
