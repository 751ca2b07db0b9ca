using EdgeBridge.Contracts;
using EdgeBridge.Streams;

namespace EdgeBridge.WebSockets;

/// <summary>
/// A subscription on an <c>edgebridge.v1</c> socket: a <see cref="StreamSink"/> whose messages leave as <c>next</c>
/// frames under the client's id and whose end is a <c>complete</c> or <c>error</c> frame, written by the
/// connection's writer when it drains the subscription.
/// </summary>
internal sealed class Subscription : StreamSink, IOutboundSource
{
    private readonly byte[] _nextPrefix;
    private readonly OutboundScheduler _scheduler;
    private readonly ProtoJson? _json;

    public Subscription(string id, StreamingMethod method, OutboundScheduler scheduler, MessageEncoding encoding = MessageEncoding.Json,
        ProtoJson? json = null, DateTimeOffset created = default)
        : base(method, encoding, created)
    {
        Id = id;
        _scheduler = scheduler;
        _json = json;
        _nextPrefix = ServerFrames.NextPrefix(id, encoding);
    }

    /// <summary>The codec of the catalog the subscription was made with: its messages keep that catalog's types.</summary>
    public ProtoJson? Json => _json;

    /// <summary>The client's id of the subscription.</summary>
    public string Id { get; }

    public bool TryTake(out OutboundFrame frame)
    {
        if (!TryTake(out SinkItem item))
        {
            frame = default;
            return false;
        }

        frame = item.Terminal is not { } status
            ? new OutboundFrame(item.Message!, _nextPrefix, item.Dropped, Encoding: Encoding)
            : new OutboundFrame(status.Code == 0 ? ServerFrames.Complete(Id) : ServerFrames.Error(Id, status, _json), Ends: this);
        return true;
    }

    protected override void OnReady() => _scheduler.Schedule(this);
}
