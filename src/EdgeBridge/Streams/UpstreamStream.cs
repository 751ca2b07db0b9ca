using System.Diagnostics;
using EdgeBridge.Contracts;
using EdgeBridge.Diagnostics;
using Google.Protobuf;
using Grpc.Core;
using Microsoft.Extensions.Logging;

namespace EdgeBridge.Streams;

/// <summary>
/// One upstream server-streaming call and the sinks it feeds. Each message is encoded once per encoding its sinks
/// asked for (JSON, protobuf) and the same bytes are queued for every sink; the read loop never waits for a sink.
/// The call is cancelled as soon as its last sink leaves.
/// </summary>
// The cancellation source has no timer, so it needs no disposal; disposing it would race with late Remove calls.
[System.Diagnostics.CodeAnalysis.SuppressMessage("Reliability", "CA1001", Justification = "CancellationTokenSource without a timer.")]
internal sealed partial class UpstreamStream : IUpstreamCall
{
    private const int MaxUnwokenMessages = 16;

    private readonly Lock _lock = new();
    private readonly CancellationTokenSource _cancellation = new();
    private readonly Action<UpstreamStream>? _onClosed;
    private readonly ILogger _logger;

    // Subscribers live in a list guarded by _lock, each knowing its slot, so joining and leaving cost O(1) however
    // many share the call (a copy-on-write array made a storm of N subscribers O(N²) and, past 10k, put a fresh
    // large-object array on the heap per join). The read loop works from its own copy of the list, refreshed
    // under the lock only when the membership changed since the previous message; a subscriber that left before
    // the refresh is still handed messages and ignores them, because it has ended. Until the next message the copy
    // may still reference subscribers that left: ended subscriptions with empty queues, at most as many as the
    // call ever had at once.
    private readonly List<StreamSink> _subscribers = [];
    private StreamSink[] _view = [];
    private int _viewCount;
    private bool _changed;
    private int _subscriberCount;
    private Activity? _activity;
    private long _messages;
    private IMessage? _last;
    private Metadata _headers;
    private bool _closed;

    public UpstreamStream(StreamingMethod method, IMessage request, Metadata headers, string? sharingKey, Action<UpstreamStream>? onClosed, ILogger logger)
    {
        Method = method;
        Request = request;
        _headers = headers;
        SharingKey = sharingKey;
        _onClosed = onClosed;
        _logger = logger;
    }

    public StreamingMethod Method { get; }

    public IMessage Request { get; }

    /// <summary>The metadata the call is opened (and re-opened) with.</summary>
    public Metadata Headers => Volatile.Read(ref _headers);

    /// <summary>Identifies identical subscriptions of a shared method; null for per-caller calls.</summary>
    public string? SharingKey { get; }

    public int SubscriberCount => Volatile.Read(ref _subscriberCount);

    /// <summary>What the call is charged to against the upstream-call caps; given back when the call ends.</summary>
    public UpstreamCallBudget.Charge? Charge { get; set; }

    /// <summary>
    /// The metadata of a per-caller call: the caller's token, when the method forwards one, and the subscription's own
    /// metadata (already checked against what the edge forwards).
    /// </summary>
    public static Metadata CallerHeaders(string? token, Metadata? subscription = null)
    {
        var headers = token is null ? [] : new Metadata { { "authorization", "Bearer " + token } };
        if (subscription is not null)
        {
            foreach (var entry in subscription)
            {
                headers.Add(entry);
            }
        }

        return headers;
    }

    /// <summary>
    /// The caller refreshed its token (an <c>auth</c> frame): a call re-opened after a failover carries the new one.
    /// The running call keeps the token it was opened with; the backend checked it then. Per-caller calls only.
    /// </summary>
    public void Reauthorize(string token)
    {
        if (SharingKey is null)
        {
            var headers = new Metadata { { "authorization", "Bearer " + token } };
            foreach (var entry in Headers)
            {
                if (entry.Key != "authorization")
                {
                    headers.Add(entry);
                }
            }

            Volatile.Write(ref _headers, headers);
        }
    }

    /// <summary>Adds a subscriber; false once the stream is closing (the caller then starts a new one).</summary>
    public bool TryAdd(StreamSink subscription)
    {
        lock (_lock)
        {
            if (_closed)
            {
                return false;
            }

            subscription.UpstreamSlot = _subscribers.Count;
            _subscribers.Add(subscription);
            Changed();
            subscription.Upstream = this;
            Link(subscription);
            return true;
        }
    }

    /// <summary>Gives the call its span; subscribers that joined before it get their link now.</summary>
    public void Trace(Activity? activity)
    {
        if (activity is null)
        {
            return;
        }

        lock (_lock)
        {
            _activity = activity;
            foreach (var subscriber in _subscribers)
            {
                Link(subscriber);
            }
        }
    }

    /// <summary>Ends the call's span with the call's outcome.</summary>
    public void EndTrace(StatusCode code, string? description = null)
    {
        var activity = Interlocked.Exchange(ref _activity, null);
        if (activity is null)
        {
            return;
        }

        activity.SetTag("edgebridge.messages.read", Interlocked.Read(ref _messages));
        EdgeBridgeActivities.SetStatus(activity, code, description);
        activity.Stop();
    }

    private void Link(StreamSink subscription)
    {
        if (_activity is { } activity)
        {
            subscription.Activity?.AddLink(EdgeBridgeActivities.Link(activity.Context, "upstream"));
        }
    }

    public void Remove(StreamSink subscription)
    {
        lock (_lock)
        {
            var slot = subscription.UpstreamSlot;
            if (slot < 0 || slot >= _subscribers.Count || _subscribers[slot] != subscription)
            {
                return;
            }

            // Swap with the last: order among subscribers carries no meaning.
            var last = _subscribers[^1];
            _subscribers[slot] = last;
            last.UpstreamSlot = slot;
            _subscribers.RemoveAt(_subscribers.Count - 1);
            subscription.UpstreamSlot = -1;
            Changed();
            if (_subscribers.Count > 0 || _closed)
            {
                return;
            }

            _closed = true;
        }

        _onClosed?.Invoke(this);
        _cancellation.Cancel();
    }

    public void Withdraw(Google.Rpc.Status status)
    {
        EndAll(status);
        _onClosed?.Invoke(this);
        _cancellation.Cancel();
    }

    public async Task RunAsync(CallInvoker invoker, ProtoJson json, StreamCounters counters, UpstreamFailover? failover = null)
    {
        var token = _cancellation.Token;

        // Current while the call starts, so the backend's span continues this call's trace.
        Activity.Current = _activity;
        var outcome = StatusCode.OK;
        string? failure = null;
        try
        {
            CallInvoker? current = invoker;
            CallInvoker? broken = null;
            var request = Request;
            var backoff = failover?.Backoff ?? TimeSpan.Zero;
            long brokenSince = 0;
            var reopened = 0;
            while (true)
            {
                var read = Interlocked.Read(ref _messages);
                try
                {
                    current ??= failover!.Next(broken);
                    await ReadAsync(current, request, json, counters, token);
                    break;
                }
                catch (RpcException ex) when (!token.IsCancellationRequested && ex.StatusCode == StatusCode.Unavailable && failover is not null
                    && WithinGrace(failover, Interlocked.Read(ref _messages) > read, ref brokenSince, ref backoff))
                {
                    // The replica died or drains: the next available one continues after the last message read.
                    reopened++;
                    counters.CallReopened();
                    WakeAll();
                    Log.Reopening(_logger, Method.FullName, reopened, ex.Status.Detail);
                    await Task.Delay(backoff, failover.Time, token);
                    backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, failover.MaxBackoff.Ticks));
                    (broken, current) = (current, null);
                    request = Method.Cursor is { } cursor && _last is { } last ? cursor.After(Request, last) : request;
                }
            }

            // Ending wakes every transport, for the messages still queued and the end after them.
            EndAll(new Google.Rpc.Status());
        }
        catch (RpcException) when (token.IsCancellationRequested)
        {
            // Cancelled because nobody listens any more: nobody to tell.
            outcome = StatusCode.Cancelled;
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            outcome = StatusCode.Cancelled;
        }
        catch (RpcException ex)
        {
            (outcome, failure) = (ex.StatusCode, ex.Status.Detail);
            Log.CallFailed(_logger, Method.FullName, ex.StatusCode, IsServerSide(ex.StatusCode));
            EndAll(RpcStatuses.FromException(ex));
        }
        catch (Exception ex)
        {
            (outcome, failure) = (StatusCode.Internal, ex.GetType().Name);
            Log.CallBroke(_logger, Method.FullName, ex);
            EndAll(new Google.Rpc.Status { Code = (int)StatusCode.Internal, Message = "The upstream call failed: " + ex.GetType().Name });
        }
        finally
        {
            lock (_lock)
            {
                _closed = true;
            }

            _onClosed?.Invoke(this);
            EndTrace(outcome, failure);
        }
    }

    /// <summary>Reads one upstream call to its end, handing each message to every subscriber.</summary>
    private async Task ReadAsync(CallInvoker invoker, IMessage request, ProtoJson json, StreamCounters counters, CancellationToken token)
    {
        using var call = invoker.AsyncServerStreamingCall(Method.GrpcMethod, null, new CallOptions(Headers, cancellationToken: token), request);
        var unwoken = 0;
        while (true)
        {
            // What the upstream has already buffered is queued for every subscriber before their writers are
            // woken: a burst (one tick's quotes of several symbols) then leaves each socket in one write
            // instead of one per message, at no cost in latency — the wake-up happens as soon as the next
            // read would wait. The cap keeps the first message of a long burst from waiting for the last.
            var moveNext = call.ResponseStream.MoveNext(token);
            if (unwoken > 0 && (!moveNext.IsCompleted || unwoken >= MaxUnwokenMessages))
            {
                WakeAll();
                unwoken = 0;
            }

            if (!await moveNext)
            {
                break;
            }

            var message = call.ResponseStream.Current;
            _last = message;
            byte[]? jsonBytes = null;
            byte[]? protoBytes = null;
            Interlocked.Increment(ref _messages);
            counters.MessageRead();
            foreach (var subscriber in View())
            {
                var delivery = subscriber.Deliver(subscriber.Encoding == MessageEncoding.Proto
                    ? protoBytes ??= message.ToByteArray()
                    : jsonBytes ??= json.FormatUtf8(message), wake: false);
                if (delivery != Delivery.Queued)
                {
                    counters.Count(delivery);
                }
            }

            unwoken++;
        }
    }

    // A call that read messages before it broke starts a new grace period (and backoff); one that broke at once
    // continues the current one. Within the period the call is re-opened; after it, subscribers get the error.
    private static bool WithinGrace(UpstreamFailover failover, bool readSome, ref long brokenSince, ref TimeSpan backoff)
    {
        if (readSome || brokenSince == 0)
        {
            brokenSince = failover.Time.GetTimestamp();
            backoff = failover.Backoff;
        }

        return failover.Time.GetElapsedTime(brokenSince) < failover.GracePeriod;
    }

    /// <summary>Marks the membership changed; called under the lock.</summary>
    private void Changed()
    {
        _changed = true;
        Volatile.Write(ref _subscriberCount, _subscribers.Count);
    }

    // A backend that answers a caller's mistake (NOT_FOUND, PERMISSION_DENIED, ...) is working; one that is
    // unavailable, overloaded or broken is the operator's business.
    private static bool IsServerSide(StatusCode code) => code is StatusCode.Unavailable or StatusCode.Internal or StatusCode.Unknown
        or StatusCode.DataLoss or StatusCode.DeadlineExceeded or StatusCode.ResourceExhausted or StatusCode.Unimplemented;

    /// <summary>The subscribers as the read loop sees them (read loop only).</summary>
    private ReadOnlySpan<StreamSink> View()
    {
        if (Volatile.Read(ref _changed))
        {
            lock (_lock)
            {
                var count = _subscribers.Count;
                if (_view.Length < count)
                {
                    _view = new StreamSink[Math.Max(count, _view.Length * 2)];
                }

                _subscribers.CopyTo(_view);

                // Nothing past the live ones stays reachable from here.
                Array.Clear(_view, count, Math.Max(0, _viewCount - count));
                _viewCount = count;
                _changed = false;
            }
        }

        return _view.AsSpan(0, _viewCount);
    }

    private void WakeAll()
    {
        foreach (var subscriber in View())
        {
            subscriber.Wake();
        }
    }

    private void EndAll(Google.Rpc.Status status)
    {
        StreamSink[] subscribers;
        lock (_lock)
        {
            _closed = true;
            subscribers = [.. _subscribers];
            foreach (var subscriber in subscribers)
            {
                subscriber.UpstreamSlot = -1;
            }

            _subscribers.Clear();
            Changed();
        }

        foreach (var subscriber in subscribers)
        {
            subscriber.End(status);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1, EventName = "UpstreamCallFailed", Message = "The upstream call {Method} ended with {StatusCode}.")]
        private static partial void CallFailed(ILogger logger, LogLevel level, string method, StatusCode statusCode);

        // Server-side failures are the operator's concern; a caller's mistake answered by the backend is not.
        public static void CallFailed(ILogger logger, string method, StatusCode statusCode, bool serverSide) =>
            CallFailed(logger, serverSide ? LogLevel.Warning : LogLevel.Debug, method, statusCode);

        [LoggerMessage(EventId = 3, EventName = "UpstreamCallReopening", Level = LogLevel.Warning,
            Message = "The upstream call {Method} broke ({Detail}); re-opening it on the next available replica (attempt {Attempt}).")]
        public static partial void Reopening(ILogger logger, string method, int attempt, string detail);

        [LoggerMessage(EventId = 2, EventName = "UpstreamCallBroke", Level = LogLevel.Error, Message = "The upstream call {Method} failed unexpectedly.")]
        public static partial void CallBroke(ILogger logger, string method, Exception exception);
    }
}

/// <summary>
/// How a subscription's upstream call that broke is re-opened: on another available replica (<see cref="Next"/> takes
/// the invoker whose call broke), with backoff, for a while.
/// </summary>
internal sealed record UpstreamFailover(Func<CallInvoker?, CallInvoker> Next, TimeSpan GracePeriod, TimeSpan Backoff, TimeSpan MaxBackoff, TimeProvider Time);
