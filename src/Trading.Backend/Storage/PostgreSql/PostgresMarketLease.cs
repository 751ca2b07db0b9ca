using Microsoft.Extensions.Options;
using Npgsql;
using Trading.Backend.Hosting;
using Trading.Backend.Market;

namespace Trading.Backend.Storage.PostgreSql;

/// <summary>
/// The market lease as a PostgreSQL session-level advisory lock. The server releases it the moment the
/// holder's session ends — a killed process's socket is closed by the kernel — so another replica takes over
/// within one <see cref="MarketOptions.LeaseInterval"/>.
/// </summary>
/// <remarks>
/// A holder that hangs (its process stopped, its socket open) keeps its session. So the holder writes a heartbeat
/// in the engine's clock every interval, and a replica that finds it older than <see cref="MarketOptions.LeaseTimeout"/>
/// ends the holder's session (<c>pg_terminate_backend</c>), which frees the lock; the hung holder, if it wakes,
/// finds its session gone and stops. Only the engine's clock is read, so the replicas' clocks need not agree.
/// </remarks>
internal sealed class PostgresMarketLease(PostgresDatabase database, IOptions<BackendOptions> options, TimeProvider time) : IMarketLease
{
    private const long LockKey = 0x45_64_67_65_42_72_02;

    public async Task<IHeldMarketLease> AcquireAsync(CancellationToken cancellationToken)
    {
        var market = options.Value.Market;
        while (true)
        {
            NpgsqlConnection? connection = null;
            try
            {
                // A replica that is not ready does not lead: its quotes could not reach the others.
                if (!database.IsReady)
                {
                    await Task.Delay(market.LeaseInterval, time, cancellationToken);
                    continue;
                }

                connection = await database.DataSource.OpenConnectionAsync(cancellationToken);
                await using var command = new NpgsqlCommand("SELECT pg_try_advisory_lock(@key)", connection);
                command.Parameters.AddWithValue("key", LockKey);
                if ((bool)(await command.ExecuteScalarAsync(cancellationToken))!)
                {
                    await HeartbeatAsync(connection, database.ReplicaId, cancellationToken);
                    var held = new Held(connection, database.ReplicaId, market.LeaseInterval, time);
                    connection = null;
                    return held;
                }

                await EndHungHolderAsync(connection, market.LeaseTimeout, cancellationToken);
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

            await Task.Delay(market.LeaseInterval, time, cancellationToken);
        }
    }

    private static async Task HeartbeatAsync(NpgsqlConnection connection, string holder, CancellationToken cancellationToken)
    {
        await using var beat = new NpgsqlCommand(
            """
            INSERT INTO market_lease (id, holder, heartbeat) VALUES (1, @holder, now())
            ON CONFLICT (id) DO UPDATE SET holder = excluded.holder, heartbeat = excluded.heartbeat
            """, connection);
        beat.Parameters.AddWithValue("holder", holder);
        await beat.ExecuteNonQueryAsync(cancellationToken);
    }

    // The advisory lock of a bigint key shows in pg_locks as classid (its high 32 bits), objid (low 32 bits), objsubid 1.
    private static async Task EndHungHolderAsync(NpgsqlConnection connection, TimeSpan timeout, CancellationToken cancellationToken)
    {
        await using var end = new NpgsqlCommand(
            """
            SELECT pg_terminate_backend(l.pid)
            FROM pg_locks l CROSS JOIN market_lease m
            WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
              AND l.classid::bigint = @high AND l.objid::bigint = @low
              AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
              AND m.id = 1 AND m.heartbeat < now() - make_interval(secs => @timeout)
            """, connection);
        end.Parameters.AddWithValue("high", LockKey >> 32);
        end.Parameters.AddWithValue("low", LockKey & 0xFFFF_FFFF);
        end.Parameters.AddWithValue("timeout", timeout.TotalSeconds);
        await end.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>Keeps the lock's session and beats its heartbeat every interval; when that fails the lease may be someone else's.</summary>
    private sealed class Held : IHeldMarketLease
    {
        private readonly NpgsqlConnection _connection;
        private readonly string _holder;
        private readonly CancellationTokenSource _lost = new();
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _watch;

        public Held(NpgsqlConnection connection, string holder, TimeSpan interval, TimeProvider time)
        {
            _connection = connection;
            _holder = holder;
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
                    await HeartbeatAsync(_connection, _holder, _stop.Token);
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
