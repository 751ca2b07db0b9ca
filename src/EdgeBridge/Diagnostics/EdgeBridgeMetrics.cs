using System.Diagnostics.Metrics;
using EdgeBridge.Streams;
using EdgeBridge.WebSockets;

namespace EdgeBridge.Operations;

/// <summary>
/// EdgeBridge's instruments (meter <c>EdgeBridge</c>). Hot-path counts are plain interlocked fields read by
/// observable instruments, so a delivered message costs one atomic add whether or not anyone listens.
/// </summary>
internal sealed class EdgeBridgeMetrics : IDisposable
{
    public const string MeterName = EdgeBridgeDiagnostics.MeterName;

    private readonly Meter _meter;
    private readonly Counter<long> _framesRejected;
    private readonly Counter<long> _handshakesRejected;
    private long _messagesDelivered;
    private long _bytesSent;
    private long _framesReceived;
    private long _bytesReceived;

    public EdgeBridgeMetrics(IMeterFactory meters, ConnectionRegistry connections, UpstreamStreams upstreams)
    {
        _meter = meters.Create(MeterName);
        _meter.CreateObservableUpDownCounter("edgebridge.websocket.connections", () => connections.Count, description: "Open WebSocket connections.");
        _meter.CreateObservableUpDownCounter("edgebridge.subscriptions.active", () => connections.Connections
            .SelectMany(c => c.Subscriptions)
            .GroupBy(s => s.Method.FullName)
            .Select(g => new Measurement<long>(g.Count(), new KeyValuePair<string, object?>("method", g.Key))), description: "Active subscriptions per method.");
        _meter.CreateObservableUpDownCounter("edgebridge.upstream.calls.active", () => upstreams.Active, description: "Upstream calls running now.");
        _meter.CreateObservableCounter("edgebridge.upstream.calls", () => upstreams.StartedByMethod
            .Select(p => new Measurement<long>(p.Value, new KeyValuePair<string, object?>("method", p.Key))), description: "Upstream calls started, per method.");
        _meter.CreateObservableGauge("edgebridge.fanout.ratio", () =>
        {
            var calls = upstreams.Active;
            return calls == 0 ? 0 : connections.Connections.Sum(c => c.Subscriptions.Count) / (double)calls;
        }, description: "Active subscriptions per running upstream call.");
        _meter.CreateObservableUpDownCounter("edgebridge.queue.depth", () => connections.Connections.SelectMany(c => c.Subscriptions).Sum(s => (long)s.QueueDepth),
            description: "Messages waiting in subscription queues.");
        _meter.CreateObservableCounter("edgebridge.messages.delivered", () => Interlocked.Read(ref _messagesDelivered), description: "next frames written to sockets.");
        _meter.CreateObservableCounter("edgebridge.messages.upstream", () => upstreams.Counters.MessagesRead, description: "Messages read from upstream calls.");
        _meter.CreateObservableCounter("edgebridge.bytes.sent", () => Interlocked.Read(ref _bytesSent), unit: "By", description: "Bytes of frames written to sockets.");
        _meter.CreateObservableCounter("edgebridge.frames.received", () => Interlocked.Read(ref _framesReceived), description: "Frames received from clients.");
        _meter.CreateObservableCounter("edgebridge.bytes.received", () => Interlocked.Read(ref _bytesReceived), unit: "By", description: "Bytes of frames received from clients.");
        _meter.CreateObservableCounter("edgebridge.messages.dropped", () => upstreams.Counters.MessagesDropped, description: "Messages discarded by the drop-oldest policy.");
        _meter.CreateObservableCounter("edgebridge.slow_consumers.ended", () => upstreams.Counters.SlowConsumersEnded, description: "Subscriptions ended with RESOURCE_EXHAUSTED for falling behind.");
        _framesRejected = _meter.CreateCounter<long>("edgebridge.frames.rejected", description: "Client frames rejected, by reason.");
        _handshakesRejected = _meter.CreateCounter<long>("edgebridge.handshakes.rejected", description: "WebSocket upgrades refused, by reason.");
    }

    /// <summary>This host's meter (meters are per host; names repeat across hosts in one process).</summary>
    public Meter Meter => _meter;

    public void Delivered(int bytes)
    {
        Interlocked.Increment(ref _messagesDelivered);
        Interlocked.Add(ref _bytesSent, bytes);
    }

    public void Sent(int bytes) => Interlocked.Add(ref _bytesSent, bytes);

    public void FrameReceived(int bytes)
    {
        Interlocked.Increment(ref _framesReceived);
        Interlocked.Add(ref _bytesReceived, bytes);
    }

    public void FrameRejected(string reason) => _framesRejected.Add(1, new KeyValuePair<string, object?>("reason", reason));

    public void HandshakeRejected(string reason) => _handshakesRejected.Add(1, new KeyValuePair<string, object?>("reason", reason));

    public void Dispose() => _meter.Dispose();
}
