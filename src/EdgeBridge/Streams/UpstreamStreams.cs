using System.Diagnostics;
using System.Collections.Concurrent;
using EdgeBridge.Contracts;
using EdgeBridge.Upstream;
using Google.Protobuf;
using Grpc.Core;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace EdgeBridge.Streams;

/// <summary>
/// Starts upstream calls for sinks. Identical subscriptions of a shared method join one running call; per-caller
/// methods always get their own call with the caller's credentials. Every new call is charged to its caller
/// against the <see cref="UpstreamCallBudget"/>; joining a running shared call costs nothing.
/// </summary>
internal sealed class UpstreamStreams(
    UpstreamChannels channels,
    ContractCatalog catalog,
    UpstreamCallBudget budget,
    IOptionsMonitor<EdgeBridgeOptions> options,
    TimeProvider time,
    ILogger<UpstreamStream> logger)
{
    private readonly ConcurrentDictionary<string, UpstreamStream> _shared = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, long> _startedByMethod = new(StringComparer.Ordinal);
    private readonly Func<CallInvoker?, CallInvoker> _nextInvoker = channels.Next;
    private long _active;

    /// <summary>Upstream calls started since the edge started, per method.</summary>
    public IReadOnlyDictionary<string, long> StartedByMethod => _startedByMethod;

    /// <summary>Upstream calls running now.</summary>
    public long Active => Interlocked.Read(ref _active);

    /// <summary>What the running and past calls read and dropped.</summary>
    public StreamCounters Counters { get; } = new();

    /// <summary>Shared upstream calls running now.</summary>
    public int SharedCount => _shared.Count;

    /// <summary>
    /// Connects <paramref name="sink"/> to an upstream call of its method: a running shared one when there is one,
    /// else a new call charged to <paramref name="caller"/>. Returns null when subscribed, or the RESOURCE_EXHAUSTED
    /// status when the caller (or the edge) is at its cap of upstream calls; the sink is then left untouched.
    /// <paramref name="metadata"/> is the subscription's own metadata; shared methods take none. Client-streaming and
    /// bidirectional methods take no <paramref name="request"/>: their messages come through <see cref="ClientStreamCall.Send"/>.
    /// </summary>
    public Google.Rpc.Status? Subscribe(StreamSink sink, IMessage? request, Caller caller, Metadata? metadata = null)
    {
        var method = sink.Method;
        if (method.ClientSends)
        {
            return StartClientStream(sink, caller, metadata);
        }

        ArgumentNullException.ThrowIfNull(request);
        if (!method.Policy.Shared)
        {
            var headers = UpstreamStream.CallerHeaders(method.Policy.ForwardsToken ? caller.Token : null, metadata);
            return TryStart(new UpstreamStream(method, request, headers, sharingKey: null, onClosed: null, logger), sink, caller);
        }

        // Shared calls carry no caller's credentials nor anyone's metadata: their messages go to every subscriber alike.
        Debug.Assert(metadata is null or { Count: 0 }, "The session refuses metadata on shared methods.");
        var key = method.FullName + "\n" + catalog.Json.Format(request);
        while (true)
        {
            if (_shared.TryGetValue(key, out var running))
            {
                if (running.TryAdd(sink))
                {
                    return null;
                }

                // Closing: make room for a new call.
                _shared.TryRemove(new KeyValuePair<string, UpstreamStream>(key, running));
                continue;
            }

            var charge = budget.TryCharge(caller, out var refusal);
            if (charge is null)
            {
                return Refused(refusal!);
            }

            var stream = new UpstreamStream(method, request, [], key, Forget, logger) { Charge = charge };
            if (_shared.TryAdd(key, stream))
            {
                Start(stream, sink);
                return null;
            }

            // Someone else started the same call meanwhile: join theirs instead.
            charge.Dispose();
        }
    }

    private Google.Rpc.Status? TryStart(UpstreamStream stream, StreamSink first, Caller caller)
    {
        var charge = budget.TryCharge(caller, out var refusal);
        if (charge is null)
        {
            return Refused(refusal!);
        }

        stream.Charge = charge;
        Start(stream, first);
        return null;
    }

    // A client or bidirectional stream: always the caller's own call, never re-opened elsewhere.
    private Google.Rpc.Status? StartClientStream(StreamSink sink, Caller caller, Metadata? metadata)
    {
        var charge = budget.TryCharge(caller, out var refusal);
        if (charge is null)
        {
            return Refused(refusal!);
        }

        var method = sink.Method;
        var call = new ClientStreamCall(sink, UpstreamStream.CallerHeaders(method.Policy.ForwardsToken ? caller.Token : null, metadata), logger) { Charge = charge };
        CallInvoker invoker;
        try
        {
            invoker = _nextInvoker(null);
        }
        catch (RpcException ex)
        {
            charge.Dispose();
            sink.End(ex.StatusCode, ex.Status.Detail);
            return null;
        }

        call.Trace(Diagnostics.EdgeBridgeActivities.StartUpstream(method, sink.Activity?.Context ?? default));
        _startedByMethod.AddOrUpdate(method.FullName, 1, static (_, n) => n + 1);
        Interlocked.Increment(ref _active);
        _ = Task.Run(async () =>
        {
            try
            {
                await call.RunAsync(invoker, catalog.Json, Counters);
            }
            finally
            {
                charge.Dispose();
                Interlocked.Decrement(ref _active);
            }
        });
        return null;
    }

    private static Google.Rpc.Status Refused(string message) => new() { Code = (int)StatusCode.ResourceExhausted, Message = message };

    private void Start(UpstreamStream stream, StreamSink first)
    {
        // A per-caller call belongs to its subscription's trace; a shared one outlives whoever started it.
        var parent = stream.SharingKey is null ? first.Activity?.Context ?? default : default;
        stream.Trace(Diagnostics.EdgeBridgeActivities.StartUpstream(stream.Method, parent));
        stream.TryAdd(first);
        CallInvoker invoker;
        try
        {
            invoker = _nextInvoker(null);
        }
        catch (RpcException ex)
        {
            Forget(stream);
            stream.Charge?.Dispose();
            stream.EndTrace(ex.StatusCode);
            first.End(ex.StatusCode, ex.Status.Detail);
            return;
        }

        _startedByMethod.AddOrUpdate(stream.Method.FullName, 1, static (_, n) => n + 1);
        Interlocked.Increment(ref _active);
        var upstream = options.CurrentValue.Upstream;
        var failover = upstream.FailoverGracePeriod > TimeSpan.Zero
            ? new UpstreamFailover(_nextInvoker, upstream.FailoverGracePeriod, upstream.FailoverBackoff, upstream.FailoverMaxBackoff, time)
            : null;
        _ = Task.Run(async () =>
        {
            try
            {
                await stream.RunAsync(invoker, catalog.Json, Counters, failover);
            }
            finally
            {
                stream.Charge?.Dispose();
                Interlocked.Decrement(ref _active);
            }
        });
    }

    private void Forget(UpstreamStream stream)
    {
        if (stream.SharingKey is { } key)
        {
            _shared.TryRemove(new KeyValuePair<string, UpstreamStream>(key, stream));
        }
    }
}
