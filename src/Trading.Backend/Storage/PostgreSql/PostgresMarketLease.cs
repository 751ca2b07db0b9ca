using Microsoft.Extensions.Options;
using Npgsql;
using Trading.Backend.Hosting;
using Trading.Backend.Market;

namespace Trading.Backend.Storage.PostgreSql;

/// <summary>
/// The market lease as a PostgreSQL session-level advisory lock. The server releases it the moment the
/// holder's session ends — a killed process's socket is closed by the kernel — so another replica takes over
/// within one <see cref="MarketOptions.LeaseInterval"/>; no clock or expiry is involved.
/// </summary>
internal sealed class PostgresMarketLease(PostgresDatabase database, IOptions<BackendOptions> options, TimeProvider time) : IMarketLease
{
    private const long LockKey = 0x45_64_67_65_42_72_02;

    public async Task<IHeldMarketLease> AcquireAsync(CancellationToken cancellationToken)
    {
        var interval = options.Value.Market.LeaseInterval;
        while (true)
        {
            NpgsqlConnection? connection = null;
            try
            {
                // A replica that is not ready does not lead: its quotes could not reach the others.
                if (!database.IsReady)
                {
                    await Task.Delay(interval, time, cancellationToken);
                    continue;
                }

                connection = await database.DataSource.OpenConnectionAsync(cancellationToken);
                await using var command = new NpgsqlCommand("SELECT pg_try_advisory_lock(@key)", connection);
                command.Parameters.AddWithValue("key", LockKey);
                if ((bool)(await command.ExecuteScalarAsync(cancellationToken))!)
                {
                    var held = new Held(connection, interval, time);
                    connection = null;
                    return held;
                }
            }
            catch (Exception ex) when (ex is NpgsqlException or TimeoutException)
            {
                // The engine is away; try again.
            }
            finally
            {
                if (connection is not null)
                {
                    await connection.DisposeAsync();
                }
            }

            await Task.Delay(interval, time, cancellationToken);
        }
    }

    /// <summary>Keeps the lock's session and checks it every interval; when the check fails the lease may be someone else's.</summary>
    private sealed class Held : IHeldMarketLease
    {
        private readonly NpgsqlConnection _connection;
        private readonly CancellationTokenSource _lost = new();
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _watch;

        public Held(NpgsqlConnection connection, TimeSpan interval, TimeProvider time)
        {
            _connection = connection;
            _watch = WatchAsync(interval, time);
        }

        public CancellationToken Lost => _lost.Token;

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            await _watch;
            try
            {
                await using var unlock = new NpgsqlCommand("SELECT pg_advisory_unlock(@key)", _connection);
                unlock.Parameters.AddWithValue("key", LockKey);
                await unlock.ExecuteNonQueryAsync();
            }
            catch (Exception ex) when (ex is NpgsqlException or InvalidOperationException or TimeoutException)
            {
                // The session is gone, and the lock with it.
            }

            await _connection.DisposeAsync();
            _lost.Dispose();
            _stop.Dispose();
        }

        private async Task WatchAsync(TimeSpan interval, TimeProvider time)
        {
            try
            {
                while (true)
                {
                    await Task.Delay(interval, time, _stop.Token);
                    await using var check = new NpgsqlCommand("SELECT 1", _connection) { CommandTimeout = Math.Max(1, (int)Math.Ceiling(interval.TotalSeconds * 2)) };
                    await check.ExecuteScalarAsync(_stop.Token);
                }
            }
            catch (OperationCanceledException) when (_stop.IsCancellationRequested)
            {
            }
            catch (Exception ex) when (ex is NpgsqlException or InvalidOperationException or TimeoutException)
            {
                await _lost.CancelAsync();
            }
        }
    }
}
