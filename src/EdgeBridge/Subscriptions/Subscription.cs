using System.Diagnostics;
using EdgeBridge.Contracts;
using EdgeBridge.Operations;
using EdgeBridge.WebSockets;
using Grpc.Core;

namespace EdgeBridge.Subscriptions;

/// <summary>Something the connection's writer drains frames from: a subscription or the control queue.</summary>
internal interface IOutboundSource
{
    /// <summary>Takes the next frame to write, or returns false when the source is empty.</summary>
    bool TryTake(out OutboundFrame frame);

    /// <summary>Called by the writer once the source is empty; re-schedules it if frames arrived meanwhile.</summary>
    void Drained();
}

/// <summary>What happened to a message handed to a subscription.</summary>
internal enum Delivery
{
    Queued,
    Dropped,
    Overflowed,
    Ignored,
}

/// <summary>
/// One frame waiting to be written: either finished bytes (<see cref="Bytes"/>), or a <c>next</c> frame assembled
/// at write time from the subscription's prefix and the message bytes shared by every subscriber.
/// </summary>
internal readonly record struct OutboundFrame(byte[] Bytes, byte[]? NextPrefix = null, long Dropped = 0, Subscription? Ends = null,
    MessageEncoding Encoding = MessageEncoding.Json);

/// <summary>
/// One client subscription: a bounded queue between an upstream stream (which never waits for it) and the
/// connection's writer. When the queue is full the method's policy decides: drop the oldest message and report
/// the count with the next one, or end the subscription with RESOURCE_EXHAUSTED after what is already queued.
/// </summary>
internal sealed class Subscription : IOutboundSource
{
    private readonly Lock _lock = new();
    private readonly Queue<byte[]> _queue = new();
    private readonly byte[] _nextPrefix;
    private readonly OutboundScheduler _scheduler;
    private long _dropped;
    private long _droppedTotal;
    private long _delivered;
    private byte[]? _terminal;
    private StatusCode _endCode;
    private bool _ended;
    private int _scheduled;
    private int _finished;

    public Subscription(string id, StreamingMethod method, OutboundScheduler scheduler, MessageEncoding encoding = MessageEncoding.Json)
    {
        Id = id;
        Method = method;
        Encoding = encoding;
        _scheduler = scheduler;
        _nextPrefix = ServerFrames.NextPrefix(id, encoding);
        Created = DateTimeOffset.UtcNow;
    }

    public string Id { get; }

    public StreamingMethod Method { get; }

    /// <summary>The encoding of the message bytes this subscription is handed and of its <c>next</c> frames.</summary>
    public MessageEncoding Encoding { get; }

    public DateTimeOffset Created { get; }

    public UpstreamStream? Upstream { get; set; }

    /// <summary>Where <see cref="Upstream"/> keeps this subscription in its list; guarded by the upstream's lock.</summary>
    public int UpstreamSlot { get; set; } = -1;

    /// <summary>Whether the upstream call carries the connection's token, so the subscription ends when it expires.</summary>
    public bool UsesToken { get; init; }

    /// <summary>The subscription's span; null when nobody listens to EdgeBridge's activity source.</summary>
    public Activity? Activity { get; init; }

    public int QueueDepth
    {
        get
        {
            lock (_lock)
            {
                return _queue.Count;
            }
        }
    }

    public long DroppedTotal => Interlocked.Read(ref _droppedTotal);

    public long Delivered => Interlocked.Read(ref _delivered);

    /// <summary>
    /// Queues a message, encoded as <see cref="Encoding"/>; called by the upstream reader and never blocks it.
    /// With <paramref name="wake"/> false the writer is not woken yet: the reader calls <see cref="Wake"/> once it
    /// has queued what the upstream had buffered (an overflow still wakes it at once, to write the error).
    /// </summary>
    public Delivery Deliver(byte[] message, bool wake = true)
    {
        var overflowed = false;
        var dropped = false;
        lock (_lock)
        {
            if (_ended)
            {
                return Delivery.Ignored;
            }

            if (_queue.Count >= Method.Policy.QueueLimit)
            {
                if (Method.Policy.DropOldest)
                {
                    _queue.Dequeue();
                    _dropped++;
                    dropped = true;
                    Interlocked.Increment(ref _droppedTotal);
                }
                else
                {
                    overflowed = true;
                    _ended = true;
                    _endCode = StatusCode.ResourceExhausted;
                    _terminal = ServerFrames.Error(Id, StatusCode.ResourceExhausted,
                        $"The subscription fell more than {Method.Policy.QueueLimit} messages behind and was ended; resume from the last message received.");
                }
            }

            if (!overflowed)
            {
                _queue.Enqueue(message);
            }
        }

        if (overflowed)
        {
            Upstream?.Remove(this);
        }

        if (wake || overflowed)
        {
            Schedule();
        }

        return overflowed ? Delivery.Overflowed : dropped ? Delivery.Dropped : Delivery.Queued;
    }

    /// <summary>
    /// Ends the subscription after the queued messages with a final <c>complete</c> or <c>error</c> frame, and
    /// leaves its upstream stream (cancelling the call if it was the last subscriber).
    /// </summary>
    public void End(StatusCode code, byte[] terminalFrame)
    {
        lock (_lock)
        {
            if (_ended)
            {
                return;
            }

            _ended = true;
            _endCode = code;
            _terminal = terminalFrame;
        }

        Upstream?.Remove(this);
        Schedule();
    }

    /// <summary>Stops the subscription at once, discarding what is queued (unsubscribe, connection closed).</summary>
    public void Cancel()
    {
        lock (_lock)
        {
            _ended = true;
            _terminal = null;
            _queue.Clear();
        }

        Upstream?.Remove(this);
        Finish(StatusCode.Cancelled);
    }

    public bool TryTake(out OutboundFrame frame)
    {
        lock (_lock)
        {
            if (_queue.TryDequeue(out var message))
            {
                frame = new OutboundFrame(message, _nextPrefix, _dropped, Encoding: Encoding);
                _dropped = 0;
                _delivered++;
                return true;
            }

            if (_terminal is { } terminal)
            {
                _terminal = null;
                frame = new OutboundFrame(terminal, Ends: this);
                Finish(_endCode);
                return true;
            }
        }

        frame = default;
        return false;
    }

    public void Drained()
    {
        Volatile.Write(ref _scheduled, 0);
        bool pending;
        lock (_lock)
        {
            pending = _queue.Count > 0 || _terminal is not null;
        }

        if (pending)
        {
            Schedule();
        }
    }

    /// <summary>Ends the span once, with how the subscription ended and what it carried.</summary>
    private void Finish(StatusCode code)
    {
        if (Activity is not { } activity || Interlocked.Exchange(ref _finished, 1) != 0)
        {
            return;
        }

        activity.SetTag("edgebridge.messages.delivered", Delivered);
        activity.SetTag("edgebridge.messages.dropped", DroppedTotal);
        EdgeBridgeActivities.SetStatus(activity, code);
        activity.Stop();
    }

    /// <summary>Wakes the connection's writer for what <see cref="Deliver"/> queued without waking it.</summary>
    public void Wake() => Schedule();

    private void Schedule()
    {
        if (Interlocked.Exchange(ref _scheduled, 1) == 0)
        {
            _scheduler.Schedule(this);
        }
    }
}
