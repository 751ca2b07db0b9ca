namespace EdgeBridge.Streams;

/// <summary>What the edge's upstream streams did, for the metrics: one atomic add per event.</summary>
internal sealed class StreamCounters
{
    private long _messages;
    private long _dropped;
    private long _slowConsumersEnded;
    private long _reopened;

    /// <summary>Messages read from upstream calls.</summary>
    public long MessagesRead => Interlocked.Read(ref _messages);

    /// <summary>Messages discarded by drop-oldest queues.</summary>
    public long MessagesDropped => Interlocked.Read(ref _dropped);

    /// <summary>Sinks ended for falling behind.</summary>
    public long SlowConsumersEnded => Interlocked.Read(ref _slowConsumersEnded);

    /// <summary>Upstream calls re-opened after they broke (failover to another replica).</summary>
    public long CallsReopened => Interlocked.Read(ref _reopened);

    public void MessageRead() => Interlocked.Increment(ref _messages);

    public void CallReopened() => Interlocked.Increment(ref _reopened);

    public void Count(Delivery delivery)
    {
        switch (delivery)
        {
            case Delivery.Dropped:
                Interlocked.Increment(ref _dropped);
                break;
            case Delivery.Overflowed:
                Interlocked.Increment(ref _slowConsumersEnded);
                break;
        }
    }
}
