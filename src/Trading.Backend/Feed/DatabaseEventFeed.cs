using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Data.Common;
using Microsoft.Extensions.Options;
using Trading.Backend.Hosting;
using Trading.Backend.Storage;

namespace Trading.Backend.Feed;

/// <summary>
/// The <see cref="IEventFeed"/> kept in the backend's database: events live in its <c>events</c> table, and
/// followers are woken after each commit — in this process directly, from other replicas by the provider's
/// commit notifications (PostgreSQL <c>LISTEN/NOTIFY</c>).
/// </summary>
/// <remarks>
/// Stores that change state and publish events together (orders and their updates) append inside their own
/// transaction through <see cref="Append"/> and call <see cref="Published"/> after commit, so an accepted
/// order can never lack its update and a rolled-back one is never announced. The table is the log itself:
/// a notification only says "read again", so a lost one delays a follower, never loses or repeats an event.
/// </remarks>
internal sealed class DatabaseEventFeed(Database database, TimeProvider time, IOptions<BackendOptions> options) : IEventFeed
{
    private const int BatchSize = 256;
    private readonly ConcurrentDictionary<string, StreamSignal> _signals = new(StringComparer.Ordinal);
    private readonly TimeSpan _pollInterval = options.Value.Database.FeedPollInterval;

    public async ValueTask<FeedEvent> AppendAsync(string stream, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken)
    {
        var appended = await database.WriteAsync((connection, transaction) => Append(connection, transaction, stream, payload.Span), cancellationToken);
        Published(stream);
        return appended;
    }

    public async ValueTask<IReadOnlyList<FeedEvent>> ReadAsync(string stream, long afterSequence, int limit, CancellationToken cancellationToken) =>
        await database.ReadAsync((connection, ct) => ReadBatchAsync(connection, stream, afterSequence, limit, ct), cancellationToken);

    public async IAsyncEnumerable<FeedEvent> FollowAsync(string stream, long afterSequence, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var signal = Acquire(stream);
        try
        {
            var cursor = afterSequence;
            while (true)
            {
                // Take the wake-up task before reading so that an append committed between the read and the
                // wait still wakes this follower.
                var appended = signal.NextAppend;
                var batch = await database.ReadAsync((connection, ct) => ReadBatchAsync(connection, stream, cursor, BatchSize, ct), cancellationToken);
                foreach (var item in batch)
                {
                    cursor = item.Sequence;
                    yield return item;
                }

                if (batch.Count < BatchSize)
                {
                    // The poll bounds how long a missed notification can delay a follower.
                    await WaitAsync(appended, cancellationToken);
                }
            }
        }
        finally
        {
            Release(stream, signal);
        }
    }

    /// <summary>Appends inside the caller's write transaction; call <see cref="Published"/> after it commits.</summary>
    public FeedEvent Append(DbConnection connection, DbTransaction transaction, string stream, ReadOnlySpan<byte> payload)
    {
        var sequence = database.NextSequence(connection, transaction, stream);
        var now = time.GetUtcNow();
        var bytes = payload.ToArray();
        Database.Execute(connection, transaction,
            "INSERT INTO events (stream, sequence, create_time_ms, payload) VALUES (@stream, @sequence, @time, @payload)",
            ("@stream", stream), ("@sequence", sequence), ("@time", now.ToUnixTimeMilliseconds()), ("@payload", bytes));
        database.Appended(connection, transaction, stream);
        return new FeedEvent(stream, sequence, DateTimeOffset.FromUnixTimeMilliseconds(now.ToUnixTimeMilliseconds()), bytes);
    }

    /// <summary>Wakes the followers of <paramref name="stream"/> after a commit that appended to it.</summary>
    public void Published(string stream)
    {
        if (_signals.TryGetValue(stream, out var signal))
        {
            signal.Pulse();
        }
    }

    /// <summary>Wakes every follower: after the notifications were interrupted, any stream may have moved on.</summary>
    public void PublishedAll()
    {
        foreach (var signal in _signals.Values)
        {
            signal.Pulse();
        }
    }

    private async Task WaitAsync(Task appended, CancellationToken cancellationToken)
    {
        if (_pollInterval <= TimeSpan.Zero)
        {
            await appended.WaitAsync(cancellationToken);
            return;
        }

        try
        {
            await appended.WaitAsync(_pollInterval, time, cancellationToken);
        }
        catch (TimeoutException)
        {
            // Read again.
        }
    }

    private static async Task<List<FeedEvent>> ReadBatchAsync(DbConnection connection, string stream, long afterSequence, int limit, CancellationToken cancellationToken)
    {
        await using var command = Database.Command(connection, null,
            "SELECT sequence, create_time_ms, payload FROM events WHERE stream = @stream AND sequence > @after ORDER BY sequence LIMIT @limit",
            ("@stream", stream), ("@after", afterSequence), ("@limit", limit));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var events = new List<FeedEvent>();
        while (await reader.ReadAsync(cancellationToken))
        {
            events.Add(new FeedEvent(stream, reader.GetInt64(0), DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(1)), (byte[])reader.GetValue(2)));
        }

        return events;
    }

    // Signals exist only while a stream has followers, so many short-lived rooms leave nothing behind.
    private StreamSignal Acquire(string stream)
    {
        while (true)
        {
            var signal = _signals.GetOrAdd(stream, static _ => new StreamSignal());
            if (signal.TryAddFollower())
            {
                return signal;
            }
        }
    }

    private void Release(string stream, StreamSignal signal)
    {
        if (signal.RemoveFollower())
        {
            _signals.TryRemove(new KeyValuePair<string, StreamSignal>(stream, signal));
        }
    }

    private sealed class StreamSignal
    {
        private readonly Lock _lock = new();
        private TaskCompletionSource _next = NewSource();
        private int _followers;
        private bool _retired;

        public Task NextAppend
        {
            get
            {
                lock (_lock)
                {
                    return _next.Task;
                }
            }
        }

        public void Pulse()
        {
            TaskCompletionSource previous;
            lock (_lock)
            {
                previous = _next;
                _next = NewSource();
            }

            previous.TrySetResult();
        }

        public bool TryAddFollower()
        {
            lock (_lock)
            {
                if (_retired)
                {
                    return false;
                }

                _followers++;
                return true;
            }
        }

        /// <summary>Returns true when this was the last follower; the signal is then retired.</summary>
        public bool RemoveFollower()
        {
            lock (_lock)
            {
                _retired = --_followers == 0;
                return _retired;
            }
        }

        private static TaskCompletionSource NewSource() => new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
