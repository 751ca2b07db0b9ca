using EdgeBridge.Diagnostics;
using EdgeBridge.Streams;
using EdgeBridge.WebSockets;

namespace EdgeBridge.Operations;

/// <summary>The edge's live state as its observable instruments read it, at scrape time.</summary>
internal sealed class EdgeBridgeGauges(ConnectionRegistry connections, UpstreamStreams upstreams) : IEdgeBridgeGauges
{
    public int Connections => connections.Count;

    public IEnumerable<KeyValuePair<string, long>> SubscriptionsByMethod() => connections.Connections
        .SelectMany(c => c.Subscriptions)
        .GroupBy(s => s.Method.FullName)
        .Select(g => new KeyValuePair<string, long>(g.Key, g.Count()));

    public long QueueDepth() => connections.Connections.SelectMany(c => c.Subscriptions).Sum(s => (long)s.QueueDepth);

    public long UpstreamCallsActive => upstreams.Active;

    public IEnumerable<KeyValuePair<string, long>> UpstreamCallsStarted() => upstreams.StartedByMethod;

    public long MessagesRead => upstreams.Counters.MessagesRead;

    public long MessagesDropped => upstreams.Counters.MessagesDropped;

    public long SlowConsumersEnded => upstreams.Counters.SlowConsumersEnded;

    public long UpstreamCallsReopened => upstreams.Counters.CallsReopened;
}
