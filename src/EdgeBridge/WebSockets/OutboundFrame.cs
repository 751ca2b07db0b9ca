using EdgeBridge.Streams;

namespace EdgeBridge.WebSockets;

/// <summary>Something the connection's writer drains frames from: a subscription or the control queue.</summary>
internal interface IOutboundSource
{
    /// <summary>Takes the next frame to write, or returns false when the source is empty.</summary>
    bool TryTake(out OutboundFrame frame);

    /// <summary>Called by the writer once the source is empty; re-schedules it if frames arrived meanwhile.</summary>
    void Drained();
}

/// <summary>
/// One frame waiting to be written: either finished bytes (<see cref="Bytes"/>), or a <c>next</c> frame assembled
/// at write time from the subscription's prefix and the message bytes shared by every subscriber.
/// </summary>
internal readonly record struct OutboundFrame(byte[] Bytes, byte[]? NextPrefix = null, long Dropped = 0, Subscription? Ends = null,
    MessageEncoding Encoding = MessageEncoding.Json);
