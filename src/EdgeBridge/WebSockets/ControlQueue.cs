namespace EdgeBridge.WebSockets;

/// <summary>
/// Frames the connection itself sends (ack, pong, ping, errors, unsubscribe's complete). The writer drains it
/// before any subscription, so an answer is never stuck behind a backlog of messages.
/// </summary>
internal sealed class ControlQueue(OutboundScheduler scheduler, int limit) : IOutboundSource
{
    private readonly Lock _lock = new();
    private readonly Queue<byte[]> _frames = new();
    private int _scheduled;

    public bool HasFrames
    {
        get
        {
            lock (_lock)
            {
                return _frames.Count > 0;
            }
        }
    }

    /// <summary>Queues a frame; returns false when the client has let <c>limit</c> frames pile up unread.</summary>
    public bool TryEnqueue(byte[] frame)
    {
        lock (_lock)
        {
            if (_frames.Count >= limit)
            {
                return false;
            }

            _frames.Enqueue(frame);
        }

        if (Interlocked.Exchange(ref _scheduled, 1) == 0)
        {
            scheduler.Schedule(this);
        }

        return true;
    }

    public bool TryTake(out OutboundFrame frame)
    {
        lock (_lock)
        {
            if (_frames.TryDequeue(out var bytes))
            {
                frame = new OutboundFrame(bytes);
                return true;
            }
        }

        frame = default;
        return false;
    }

    public void Drained()
    {
        Volatile.Write(ref _scheduled, 0);
        if (HasFrames && Interlocked.Exchange(ref _scheduled, 1) == 0)
        {
            scheduler.Schedule(this);
        }
    }
}
