using System.Diagnostics.Metrics;

namespace EdgeBridge.Diagnostics;

/// <summary>
/// What the observable instruments read, supplied by the layers that hold it (<c>Operations.EdgeBridgeGauges</c>
/// over the connections and the upstream calls): the transports and the fan-out report into
/// <see cref="EdgeBridgeMetrics"/> without the metrics depending on them.
/// </summary>
internal interface IEdgeBridgeGauges
{
    int Connections { get; }

    /// <summary>Active subscriptions, per method.</summary>
    IEnumerable<KeyValuePair<string, long>> SubscriptionsByMethod();

    /// <summary>Messages waiting in subscription queues.</summary>
    long QueueDepth();

    long UpstreamCallsActive { get; }

    /// <summary>Upstream calls started since the edge started, per method.</summary>
    IEnumerable<KeyValuePair<string, long>> UpstreamCallsStarted();

    long MessagesRead { get; }

    long MessagesDropped { get; }

    long SlowConsumersEnded { get; }

    /// <summary>Upstream calls re-opened on another replica after they broke.</summary>
    long UpstreamCallsReopened { get; }
}

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
    private readonly Counter<long> _httpCalls;
    private long _messagesDelivered;
    private long _bytesSent;
    private long _framesReceived;
    private long _bytesReceived;
    private long _httpStreams;

    public EdgeBridgeMetrics(IMeterFactory meters, IEdgeBridgeGauges gauges)
    {
        _meter = meters.Create(MeterName);
        _meter.CreateObservableUpDownCounter("edgebridge.websocket.connections", () => gauges.Connections, description: "Open WebSocket connections.");
        _meter.CreateObservableUpDownCounter("edgebridge.http.streams", () => Interlocked.Read(ref _httpStreams), description: "Open HTTP streams (server-sent events, NDJSON, Connect and gRPC-Web server streams).");
        _meter.CreateObservableUpDownCounter("edgebridge.subscriptions.active", () => gauges.SubscriptionsByMethod()
            .Select(p => new Measurement<long>(p.Value, new KeyValuePair<string, object?>("method", p.Key))), description: "Active subscriptions per method.");
        _meter.CreateObservableUpDownCounter("edgebridge.upstream.calls.active", () => gauges.UpstreamCallsActive, description: "Upstream calls running now.");
        _meter.CreateObservableCounter("edgebridge.upstream.calls", () => gauges.UpstreamCallsStarted()
            .Select(p => new Measurement<long>(p.Value, new KeyValuePair<string, object?>("method", p.Key))), description: "Upstream calls started, per method.");
        _meter.CreateObservableCounter("edgebridge.upstream.calls.reopened", () => gauges.UpstreamCallsReopened,
            description: "Upstream calls re-opened on the next replica after they broke with UNAVAILABLE.");
        _meter.CreateObservableGauge("edgebridge.fanout.ratio", () =>
        {
            var calls = gauges.UpstreamCallsActive;
            return calls == 0 ? 0 : gauges.SubscriptionsByMethod().Sum(p => p.Value) / (double)calls;
        }, description: "Active subscriptions per running upstream call.");
        _meter.CreateObservableUpDownCounter("edgebridge.queue.depth", gauges.QueueDepth, description: "Messages waiting in subscription queues.");
        _meter.CreateObservableCounter("edgebridge.messages.delivered", () => Interlocked.Read(ref _messagesDelivered), description: "next frames written to sockets.");
        _meter.CreateObservableCounter("edgebridge.messages.upstream", () => gauges.MessagesRead, description: "Messages read from upstream calls.");
        _meter.CreateObservableCounter("edgebridge.bytes.sent", () => Interlocked.Read(ref _bytesSent), unit: "By", description: "Bytes of frames written to sockets.");
        _meter.CreateObservableCounter("edgebridge.frames.received", () => Interlocked.Read(ref _framesReceived), description: "Frames received from clients.");
        _meter.CreateObservableCounter("edgebridge.bytes.received", () => Interlocked.Read(ref _bytesReceived), unit: "By", description: "Bytes of frames received from clients.");
        _meter.CreateObservableCounter("edgebridge.messages.dropped", () => gauges.MessagesDropped, description: "Messages discarded by the drop-oldest policy.");
        _meter.CreateObservableCounter("edgebridge.slow_consumers.ended", () => gauges.SlowConsumersEnded, description: "Subscriptions ended with RESOURCE_EXHAUSTED for falling behind.");
        _framesRejected = _meter.CreateCounter<long>("edgebridge.frames.rejected", description: "Client frames rejected, by reason.");
        _handshakesRejected = _meter.CreateCounter<long>("edgebridge.handshakes.rejected", description: "WebSocket upgrades refused, by reason.");
        _httpCalls = _meter.CreateCounter<long>("edgebridge.http.calls",
            description: "Calls the edge answered over HTTP itself (Connect and gRPC-Web calls and streams, server-sent events and NDJSON streams) when they ended, by protocol, method and gRPC status.");
    }

    /// <summary>This host's meter (meters are per host; names repeat across hosts in one process).</summary>
    public Meter Meter => _meter;

    public void Delivered(int bytes)
    {
        Interlocked.Increment(ref _messagesDelivered);
        Interlocked.Add(ref _bytesSent, bytes);
    }

    public void Sent(int bytes) => Interlocked.Add(ref _bytesSent, bytes);

    public void HttpStreamOpened() => Interlocked.Increment(ref _httpStreams);

    public void HttpStreamClosed() => Interlocked.Decrement(ref _httpStreams);

    public void FrameReceived(int bytes)
    {
        Interlocked.Increment(ref _framesReceived);
        Interlocked.Add(ref _bytesReceived, bytes);
    }

    public void FrameRejected(string reason) => _framesRejected.Add(1, new KeyValuePair<string, object?>("reason", reason));

    public void HandshakeRejected(string reason) => _handshakesRejected.Add(1, new KeyValuePair<string, object?>("reason", reason));

    /// <summary>
    /// One call answered by the edge itself ended. <paramref name="protocol"/> is <c>connect</c>, <c>grpc-web</c> or
    /// <c>http</c> (SSE/NDJSON); the method's name is the contract's, so the tags stay as few as the contract's methods.
    /// </summary>
    public void HttpCallEnded(string protocol, string method, Grpc.Core.StatusCode code) => _httpCalls.Add(1,
        new KeyValuePair<string, object?>("protocol", protocol),
        new KeyValuePair<string, object?>("method", method),
        new KeyValuePair<string, object?>("code", StatusNames.Of(code)));

    public void Dispose() => _meter.Dispose();
}

/// <summary>gRPC status codes as the specification spells them (<c>DEADLINE_EXCEEDED</c>), without formatting per call.</summary>
internal static class StatusNames
{
    private static readonly string[] s_names =
    [
        "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED",
        "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS",
        "UNAUTHENTICATED",
    ];

    public static string Of(Grpc.Core.StatusCode code) => (uint)code < (uint)s_names.Length ? s_names[(int)code] : "UNKNOWN";
}
