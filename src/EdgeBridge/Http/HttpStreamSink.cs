using EdgeBridge.Contracts;
using EdgeBridge.Streams;

namespace EdgeBridge.Http;

/// <summary>
/// A subscription carried by one HTTP response (SSE, NDJSON, a Connect or gRPC-Web stream): a <see cref="StreamSink"/> whose writer is the
/// request's own loop, woken when the sink has items.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Reliability", "CA1001", Justification = "A SemaphoreSlim without AvailableWaitHandle holds nothing to dispose.")]
internal sealed class HttpStreamSink(StreamingMethod method, DateTimeOffset created, MessageEncoding encoding = MessageEncoding.Json) : StreamSink(method, encoding, created)
{
    // Counts wake-ups; the sink wakes at most once until Drained, so this stays at 0 or 1 but for a race that
    // only costs one empty pass.
    private readonly SemaphoreSlim _ready = new(0);

    /// <summary>Waits until the sink has items; false when <paramref name="timeout"/> passed first (time for a heartbeat).</summary>
    public Task<bool> WaitAsync(TimeSpan timeout, CancellationToken cancellationToken) => _ready.WaitAsync(timeout, cancellationToken);

    protected override void OnReady() => _ready.Release();
}
