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
/// When the contracts are reloaded, the calls of a method that went away end with UNIMPLEMENTED and those of a
/// method whose shape changed (<see cref="ContractShape"/>) with ABORTED; every other call runs on.
/// </summary>
internal sealed class UpstreamStreams
{
    private readonly ConcurrentDictionary<string, UpstreamStream> _shared = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, long> _startedByMethod = new(StringComparer.Ordinal);

    // Every running call, for a reload to find those it withdraws.
    private readonly ConcurrentDictionary<IUpstreamCall, byte> _running = new();
    private readonly Func<CallInvoker?, CallInvoker> _nextInvoker;
    private readonly ContractSource _contracts;
    private readonly UpstreamCallBudget _budget;
    private readonly IOptionsMonitor<EdgeBridgeOptions> _options;
    private readonly TimeProvider _time;
    private readonly ILogger<UpstreamStream> _logger;
    private long _active;

    public UpstreamStreams(UpstreamChannels channels, ContractSource contracts, UpstreamCallBudget budget, IOptionsMonitor<EdgeBridgeOptions> options,
        TimeProvider time, ILogger<UpstreamStream> logger)
    {
        (_nextInvoker, _contracts, _budget, _options, _time, _logger) = (channels.Next, contracts, budget, options, time, logger);
        contracts.Changed += Withdraw;
    }

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
        var refusal = Connect(sink, request, caller, metadata);

        // A reload between the caller's reading of the catalog and now finds no call of this sink's to withdraw:
        // the sink ends itself, as the reload would have ended it.
        if (refusal is null && !_contracts.IsCurrent(sink.Method))
        {
            sink.End(WithdrawalOf(sink.Method, _contracts.Current));
        }

        return refusal;
    }

    private Google.Rpc.Status? Connect(StreamSink sink, IMessage? request, Caller caller, Metadata? metadata)
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
            return TryStart(new UpstreamStream(method, request, headers, sharingKey: null, onClosed: null, _logger), sink, caller);
        }

        // Shared calls carry no caller's credentials nor anyone's metadata: their messages go to every subscriber alike.
        Debug.Assert(metadata is null or { Count: 0 }, "The session refuses metadata on shared methods.");
        // The shape is part of the key: after a reload that changes the method, nobody joins a call of the old one.
        var key = method.FullName + "\n" + method.Shape + "\n" + method.Json.Format(request);
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

            var charge = _budget.TryCharge(caller, out var refusal);
            if (charge is null)
            {
                return Refused(refusal!);
            }

            var stream = new UpstreamStream(method, request, [], key, Forget, _logger) { Charge = charge };
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
        var charge = _budget.TryCharge(caller, out var refusal);
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
        var charge = _budget.TryCharge(caller, out var refusal);
        if (charge is null)
        {
            return Refused(refusal!);
        }

        var method = sink.Method;
        var call = new ClientStreamCall(sink, UpstreamStream.CallerHeaders(method.Policy.ForwardsToken ? caller.Token : null, metadata), _logger) { Charge = charge };
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
        _running.TryAdd(call, 0);
        _ = Task.Run(async () =>
        {
            try
            {
                await call.RunAsync(invoker, method.Json, Counters);
            }
            finally
            {
                _running.TryRemove(call, out _);
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
        var upstream = _options.CurrentValue.Upstream;
        var failover = upstream.FailoverGracePeriod > TimeSpan.Zero
            ? new UpstreamFailover(_nextInvoker, upstream.FailoverGracePeriod, upstream.FailoverBackoff, upstream.FailoverMaxBackoff, _time)
            : null;
        _running.TryAdd(stream, 0);
        _ = Task.Run(async () =>
        {
            try
            {
                await stream.RunAsync(invoker, stream.Method.Json, Counters, failover);
            }
            finally
            {
                _running.TryRemove(stream, out _);
                stream.Charge?.Dispose();
                Interlocked.Decrement(ref _active);
            }
        });
    }

    // On the reloading thread, after the new catalog is in force: ending a sink only queues its end frame.
    private void Withdraw(ContractCatalog next)
    {
        foreach (var call in _running.Keys)
        {
            var method = call.Method;
            if (!next.TryGet(method.FullName, out var now) || now.Shape != method.Shape)
            {
                call.Withdraw(WithdrawalOf(method, next));
            }
        }
    }

    private static Google.Rpc.Status WithdrawalOf(StreamingMethod method, ContractCatalog catalog) => catalog.TryGet(method.FullName, out _)
        ? new() { Code = (int)StatusCode.Aborted, Message = $"The contract of '{method.FullName}' changed at the edge: subscribe again." }
        : new() { Code = (int)StatusCode.Unimplemented, Message = $"'{method.FullName}' is no longer part of the edge's contract." };

    private void Forget(UpstreamStream stream)
    {
        if (stream.SharingKey is { } key)
        {
            _shared.TryRemove(new KeyValuePair<string, UpstreamStream>(key, stream));
        }
    }
}
