namespace Trading.Backend.Feed;

/// <summary>One event of a stream: its position, when it was appended, and its bytes.</summary>
public readonly record struct FeedEvent(string Stream, long Sequence, DateTimeOffset Time, ReadOnlyMemory<byte> Payload);

/// <summary>
/// The backend's event feed: append-only streams (one per account's orders, one per chat room) whose
/// events carry a per-stream sequence that starts at 1 and increases by one.
/// </summary>
/// <remarks>
/// The sequences are the contract's <c>after_sequence</c> cursors, which is what lets any edge resume any
/// subscription. The embedded implementation keeps the streams in the backend's SQLite file and wakes
/// followers in process; a broker (Redis Streams, PostgreSQL with LISTEN/NOTIFY) implements the same three
/// operations so that several backend replicas share one feed.
/// </remarks>
public interface IEventFeed
{
    /// <summary>Appends one event and returns it with its assigned sequence.</summary>
    ValueTask<FeedEvent> AppendAsync(string stream, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken);

    /// <summary>Reads up to <paramref name="limit"/> events with a sequence greater than <paramref name="afterSequence"/>.</summary>
    ValueTask<IReadOnlyList<FeedEvent>> ReadAsync(string stream, long afterSequence, int limit, CancellationToken cancellationToken);

    /// <summary>
    /// Yields every event after <paramref name="afterSequence"/>, then each new one as it is appended, in order,
    /// without gaps or duplicates, until cancelled.
    /// </summary>
    IAsyncEnumerable<FeedEvent> FollowAsync(string stream, long afterSequence, CancellationToken cancellationToken);
}
