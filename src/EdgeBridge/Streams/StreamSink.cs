using System.Diagnostics;
using EdgeBridge.Contracts;
using EdgeBridge.Diagnostics;
using Grpc.Core;

namespace EdgeBridge.Streams;

/// <summary>What happened to a message handed to a sink.</summary>
internal enum Delivery
{
    Queued,
    Dropped,
    Overflowed,
    Ignored,
}

/// <summary>
/// What a transport takes from a sink: a message (with the count dropped just before it) or, last, the status the
/// stream ended with (<see cref="Terminal"/>; code 0 means it completed).
/// </summary>
internal readonly record struct SinkItem(byte[]? Message, long Dropped, Google.Rpc.Status? Terminal);

/// <summary>
/// One consumer of an upstream stream, whatever carries it to the client: a bounded queue of messages already
/// encoded as <see cref="Encoding"/>, between the upstream reader (which never waits for it) and the transport that
/// drains it. When the queue is full the method's policy decides: drop the oldest message and report the count with
/// the next one, or end with RESOURCE_EXHAUSTED after what is already queued. Knows nothing of wire frames; the
/// transport turns what it takes into its own.
/// </summary>
internal abstract class StreamSink
{
    private readonly Lock _lock = new();
    private readonly Queue<byte[]> _queue = new();
    private long _dropped;
    private long _droppedTotal;
    private long _delivered;
    private Google.Rpc.Status? _terminal;
    private StatusCode _endCode;
    private bool _ended;
    private int _scheduled;
    private int _finished;

    protected StreamSink(StreamingMethod method, MessageEncoding encoding, DateTimeOffset created)
    {
        Method = method;
        Encoding = encoding;
        Created = created;
    }

    public StreamingMethod Method { get; }

    /// <summary>The encoding of the message bytes this sink is handed.</summary>
    public MessageEncoding Encoding { get; }

    public DateTimeOffset Created { get; }

    public IUpstreamCall? Upstream { get; set; }

    /// <summary>Where <see cref="Upstream"/> keeps this sink in its list; guarded by the upstream's lock.</summary>
    public int UpstreamSlot { get; set; } = -1;

    /// <summary>Whether the upstream call carries the caller's token, so the sink ends when the token expires.</summary>
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
    /// With <paramref name="wake"/> false the transport is not woken yet: the reader calls <see cref="Wake"/> once it
    /// has queued what the upstream had buffered (an overflow still wakes it at once, to deliver the error).
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
                    _terminal = new Google.Rpc.Status
                    {
                        Code = (int)StatusCode.ResourceExhausted,
                        Message = $"The subscription fell more than {Method.Policy.QueueLimit} messages behind and was ended; resume from the last message received.",
                    };
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
    /// Ends the sink after the queued messages with <paramref name="status"/> (code 0: the stream completed), and
    /// leaves its upstream stream (cancelling the call if it was the last subscriber).
    /// </summary>
    public void End(Google.Rpc.Status status)
    {
        lock (_lock)
        {
            if (_ended)
            {
                return;
            }

            _ended = true;
            _endCode = (StatusCode)status.Code;
            _terminal = status;
        }

        Upstream?.Remove(this);
        Schedule();
    }

    /// <summary>Ends the sink with <paramref name="code"/> and <paramref name="message"/> after what is queued.</summary>
    public void End(StatusCode code, string message) => End(new Google.Rpc.Status { Code = (int)code, Message = message });

    /// <summary>
    /// Stops the sink at once, discarding what is queued: the client left or unsubscribed, or (with another
    /// <paramref name="code"/>) the sink was refused before it started, which its span then says.
    /// </summary>
    public void Cancel(StatusCode code = StatusCode.Cancelled)
    {
        lock (_lock)
        {
            _ended = true;
            _terminal = null;
            _queue.Clear();
        }

        Upstream?.Remove(this);
        Finish(code);
    }

    /// <summary>Takes the next message, or the terminal status once every message is taken.</summary>
    public bool TryTake(out SinkItem item)
    {
        lock (_lock)
        {
            if (_queue.TryDequeue(out var message))
            {
                item = new SinkItem(message, _dropped, null);
                _dropped = 0;
                _delivered++;
                return true;
            }

            if (_terminal is { } terminal)
            {
                _terminal = null;
                item = new SinkItem(null, 0, terminal);
                Finish(_endCode);
                return true;
            }
        }

        item = default;
        return false;
    }

    /// <summary>Called by the transport once the sink is empty; schedules it again if items arrived meanwhile.</summary>
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

    /// <summary>Wakes the transport for what <see cref="Deliver"/> queued without waking it.</summary>
    public void Wake() => Schedule();

    /// <summary>Tells the transport that this sink has items; called at most once until <see cref="Drained"/>.</summary>
    protected abstract void OnReady();

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

    private void Schedule()
    {
        if (Interlocked.Exchange(ref _scheduled, 1) == 0)
        {
            OnReady();
        }
    }
}
