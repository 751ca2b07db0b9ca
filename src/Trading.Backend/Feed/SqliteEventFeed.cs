using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using Microsoft.Data.Sqlite;
using Trading.Backend.Storage;

namespace Trading.Backend.Feed;

/// <summary>
/// The embedded <see cref="IEventFeed"/>: events live in the <c>events</c> table of the backend's database,
/// and followers in this process are woken after each commit.
/// </summary>
/// <remarks>
/// Stores that change state and publish events together (orders and their updates) append inside their own
/// transaction through <see cref="Append"/> and call <see cref="Published"/> after commit, so an accepted
/// order can never lack its update. With a broker, the same table becomes a transactional outbox.
/// </remarks>
internal sealed class SqliteEventFeed(SqliteDatabase database, TimeProvider time) : IEventFeed
{
    private const int BatchSize = 256;
    private readonly ConcurrentDictionary<string, StreamSignal> _signals = new(StringComparer.Ordinal);

    public async ValueTask<FeedEvent> AppendAsync(string stream, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken)
    {
        var appended = await database.WriteAsync((connection, transaction) => Append(connection, transaction, stream, payload.Span), cancellationToken);
        Published(stream);
        return appended;
    }

    public ValueTask<IReadOnlyList<FeedEvent>> ReadAsync(string stream, long afterSequence, int limit, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        IReadOnlyList<FeedEvent> events = database.Read(connection => ReadBatch(connection, stream, afterSequence, limit));
        return ValueTask.FromResult(events);
    }

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
                var batch = database.Read(connection => ReadBatch(connection, stream, cursor, BatchSize));
                foreach (var item in batch)
                {
                    cursor = item.Sequence;
                    yield return item;
                }

                if (batch.Count < BatchSize)
                {
                    await appended.WaitAsync(cancellationToken);
                }
            }
        }
        finally
        {
            Release(stream, signal);
        }
    }

    /// <summary>Appends inside the caller's write transaction; call <see cref="Published"/> after it commits.</summary>
    public FeedEvent Append(SqliteConnection connection, SqliteTransaction transaction, string stream, ReadOnlySpan<byte> payload)
    {
        using var next = SqliteDatabase.Command(connection, transaction,
            "SELECT COALESCE(MAX(sequence), 0) + 1 FROM events WHERE stream = $stream", ("$stream", stream));
        var sequence = (long)next.ExecuteScalar()!;
        var now = time.GetUtcNow();
        var bytes = payload.ToArray();
        SqliteDatabase.Execute(connection, transaction,
            "INSERT INTO events (stream, sequence, create_time_ms, payload) VALUES ($stream, $sequence, $time, $payload)",
            ("$stream", stream), ("$sequence", sequence), ("$time", now.ToUnixTimeMilliseconds()), ("$payload", bytes));
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

    private static List<FeedEvent> ReadBatch(SqliteConnection connection, string stream, long afterSequence, int limit)
    {
        using var command = SqliteDatabase.Command(connection, null,
            "SELECT sequence, create_time_ms, payload FROM events WHERE stream = $stream AND sequence > $after ORDER BY sequence LIMIT $limit",
            ("$stream", stream), ("$after", afterSequence), ("$limit", limit));
        using var reader = command.ExecuteReader();
        var events = new List<FeedEvent>();
        while (reader.Read())
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
