using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using System.Net;
using System.Net.WebSockets;
using EdgeBridge.Contracts;
using EdgeBridge.Diagnostics;
using EdgeBridge.Security;
using EdgeBridge.Streams;
using Google.Protobuf;
using Grpc.Core;
using Microsoft.Extensions.Logging;

namespace EdgeBridge.WebSockets;

/// <summary>What the connection does after a frame: go on, count it as malformed, or close.</summary>
internal readonly record struct Verdict(WebSocketCloseStatus? CloseCode, string? Message)
{
    public static readonly Verdict Continue;

    /// <summary>The frame breaks the protocol: answered with an error frame, and counted against the connection.</summary>
    public static Verdict Reject(string problem) => new(null, problem);

    public static Verdict Close(WebSocketCloseStatus code, string reason) => new(code, reason);

    public bool IsReject => CloseCode is null && Message is not null;
}

/// <summary>
/// The session of one <c>edgebridge.v1</c> connection: its token and user, and its subscriptions. It handles the
/// parsed commands and answers through the connection's control queue; it never touches the socket.
/// </summary>
[SuppressMessage("Reliability", "CA1001", Justification = "A CancellationTokenSource without a timer holds nothing to dispose.")]
internal sealed partial class WebSocketSession
{
    private readonly string _connectionId;
    private readonly IPAddress _address;
    private readonly EdgeWebSocketOptions _options;
    private readonly ContractSource _contracts;
    private readonly UpstreamStreams _upstreams;
    private readonly EdgeTokens _tokens;
    private readonly TimeProvider _time;
    private readonly OutboundScheduler _scheduler;
    private readonly ControlQueue _control;
    private readonly ActivityContext _trace;
    private readonly ILogger _logger;
    private readonly Lock _gate = new();
    private readonly Dictionary<string, Subscription> _subscriptions = new(StringComparer.Ordinal);
    private readonly HashSet<string> _calls = new(StringComparer.Ordinal);

    // Client streams that ended lately: sends the client pipelined before it read the end are dropped, not each
    // answered with NOT_FOUND (the end frame already told it why). Bounded: the oldest is forgotten first.
    private readonly Queue<string> _endedClientStreams = new();
    private const int RememberedEndedStreams = 16;
    private readonly CancellationTokenSource _closing = new();
    private readonly Upstream.UpstreamCalls? _upstreamCalls;
    private ITimer? _expiryTimer;
    private string? _token;
    private string? _subject;
    private volatile bool _initialised;
    private bool _closed;

    public WebSocketSession(string connectionId, IPAddress address, EdgeWebSocketOptions options, ContractSource contracts, UpstreamStreams upstreams,
        EdgeTokens tokens, TimeProvider time, OutboundScheduler scheduler, ControlQueue control, ActivityContext trace, ILogger<WebSocketSession> logger,
        Upstream.UpstreamCalls? calls = null)
    {
        _upstreamCalls = calls;
        _connectionId = connectionId;
        _address = address;
        _options = options;
        _contracts = contracts;
        _upstreams = upstreams;
        _tokens = tokens;
        _time = time;
        _scheduler = scheduler;
        _control = control;
        _trace = trace;
        _logger = logger;
    }

    /// <summary>Whether <c>init</c> was accepted.</summary>
    public bool Initialised => _initialised;

    /// <summary>The active subscriptions, for the admin view and metrics.</summary>
    public IReadOnlyList<Subscription> Subscriptions
    {
        get
        {
            lock (_gate)
            {
                return _subscriptions.Values.ToList();
            }
        }
    }

    public ValueTask<Verdict> HandleAsync(ClientFrame frame)
    {
        if (!_initialised)
        {
            return frame switch
            {
                ClientFrame.Init init => InitAsync(init),
                ClientFrame.Malformed { Type: null } malformed => ValueTask.FromResult(Verdict.Reject(malformed.Problem)),
                _ => ValueTask.FromResult(Verdict.Close(CloseCodes.Unauthorized, "The first frame must be init.")),
            };
        }

        return frame switch
        {
            ClientFrame.Subscribe subscribe => ValueTask.FromResult(Subscribe(subscribe)),
            ClientFrame.Unsubscribe unsubscribe => ValueTask.FromResult(Unsubscribe(unsubscribe.Id)),
            ClientFrame.Call call => ValueTask.FromResult(Call(call)),
            ClientFrame.Send send => ValueTask.FromResult(SendUpstream(send)),
            ClientFrame.End end => ValueTask.FromResult(EndUpstream(end.Id)),
            ClientFrame.Ping => ValueTask.FromResult(Send(ServerFrames.Pong)),
            ClientFrame.Pong => ValueTask.FromResult(Verdict.Continue),
            ClientFrame.Auth auth => AuthAsync(auth.Token),
            ClientFrame.Init => ValueTask.FromResult(Verdict.Reject("The connection is already initialised.")),
            ClientFrame.Malformed malformed => ValueTask.FromResult(Verdict.Reject(malformed.Problem)),
            _ => throw new UnreachableException(),
        };
    }

    /// <summary>Forgets a subscription whose last frame has been written.</summary>
    public void Ended(Subscription subscription)
    {
        lock (_gate)
        {
            if (_subscriptions.TryGetValue(subscription.Id, out var current) && ReferenceEquals(current, subscription))
            {
                _subscriptions.Remove(subscription.Id);
                if (subscription.Method.ClientSends)
                {
                    if (_endedClientStreams.Count == RememberedEndedStreams)
                    {
                        _endedClientStreams.Dequeue();
                    }

                    _endedClientStreams.Enqueue(subscription.Id);
                }
            }
        }
    }

    /// <summary>Ends everything the session started: the connection is closing.</summary>
    public void Close()
    {
        List<Subscription> subscriptions;
        lock (_gate)
        {
            _closed = true;
            _closing.Cancel();
            _expiryTimer?.Dispose();
            _expiryTimer = null;
            subscriptions = [.. _subscriptions.Values];
            _subscriptions.Clear();
        }

        foreach (var subscription in subscriptions)
        {
            subscription.Cancel();
        }
    }

    private async ValueTask<Verdict> InitAsync(ClientFrame.Init init)
    {
        if (init.TokenInvalid)
        {
            return Verdict.Close(CloseCodes.Unauthorized, "init.token must be a string.");
        }

        if (init.Token is { } token)
        {
            var check = await _tokens.ValidateAsync(token);
            if (!check.Valid)
            {
                return Verdict.Close(CloseCodes.Unauthorized, $"The token was rejected: {check.Problem}.");
            }

            SetToken(token, check);
        }

        _initialised = true;
        return Send(ServerFrames.Ack(_connectionId, _options));
    }

    /// <summary>Replaces the connection's token (refresh before expiry). The user may not change.</summary>
    private async ValueTask<Verdict> AuthAsync(string token)
    {
        var check = await _tokens.ValidateAsync(token);
        if (!check.Valid)
        {
            return Send(ServerFrames.Error(null, StatusCode.Unauthenticated, $"The token was rejected: {check.Problem}; the previous token stays in use."));
        }

        if (_subject is not null && !string.Equals(_subject, check.Subject, StringComparison.Ordinal))
        {
            return Send(ServerFrames.Error(null, StatusCode.PermissionDenied, "The token is for another user; open a new connection to switch users."));
        }

        SetToken(token, check);
        return Send(ServerFrames.Ack(_connectionId, _options));
    }

    private void SetToken(string token, TokenCheck check)
    {
        lock (_gate)
        {
            if (_closed)
            {
                return;
            }

            _token = token;
            _subject = check.Subject;

            // Calls that carry the token are re-opened with the fresh one if their replica fails over.
            foreach (var subscription in _subscriptions.Values)
            {
                if (subscription.UsesToken)
                {
                    subscription.Upstream?.Reauthorize(token);
                }
            }

            _expiryTimer?.Dispose();
            _expiryTimer = null;
            if (check.Expires != DateTimeOffset.MaxValue)
            {
                var due = check.Expires - _time.GetUtcNow();
                _expiryTimer = _time.CreateTimer(static state => ((WebSocketSession)state!).TokenExpired(), this,
                    due < TimeSpan.Zero ? TimeSpan.Zero : due, Timeout.InfiniteTimeSpan);
            }
        }
    }

    /// <summary>Ends the subscriptions that carry the expired token; public ones go on.</summary>
    private void TokenExpired()
    {
        List<Subscription> expired;
        lock (_gate)
        {
            _token = null;
            expired = _subscriptions.Values.Where(s => s.UsesToken).ToList();
        }

        foreach (var subscription in expired)
        {
            subscription.End(StatusCode.Unauthenticated, "The access token expired; send an auth frame with a fresh token and subscribe again.");
        }
    }

    private Verdict Subscribe(ClientFrame.Subscribe frame)
    {
        var id = frame.Id;
        // The catalog in force now serves this subscription to its end; a reload that changes the method ends it.
        var catalog = _contracts.Current;
        if (!catalog.TryGet(frame.Method, out var method))
        {
            return Send(ServerFrames.Error(id, StatusCode.NotFound, $"Method '{frame.Method}' is not available for subscription."));
        }

        switch (frame.Problem)
        {
            case SubscribeProblem.UnknownEncoding:
                return Send(ServerFrames.Error(id, StatusCode.InvalidArgument, "'encoding' must be \"json\" or \"proto\"."));
            case SubscribeProblem.RequestNotAnObject:
                return Send(ServerFrames.Error(id, StatusCode.InvalidArgument, $"'request' must be a JSON object of {method.Descriptor.InputType.FullName}."));
            case SubscribeProblem.MetadataNotStrings:
                return Send(ServerFrames.Error(id, StatusCode.InvalidArgument, "'metadata' must be a JSON object of string values."));
            case SubscribeProblem.TooMuchMetadata:
                return Send(ServerFrames.Error(id, StatusCode.InvalidArgument, $"'metadata' may hold at most {ClientFrames.MaxMetadataEntries} entries."));
        }

        Metadata? metadata = null;
        if (frame.Metadata.Count > 0)
        {
            if (method.Policy.Shared)
            {
                // One call serves every subscriber of the same request: one subscriber's metadata cannot ride on it.
                return Send(ServerFrames.Error(id, StatusCode.InvalidArgument,
                    $"'{method.FullName}' is shared by every subscriber of the same request and takes no per-subscription metadata."));
            }

            metadata = [];
            if (SubscriptionMetadata.TryAppend(frame.Metadata, _options.ForwardedMetadata, _options.MaxMetadataBytes, metadata) is { } problem)
            {
                return Send(ServerFrames.Error(id, StatusCode.InvalidArgument, "The subscription's " + problem));
            }
        }

        IMessage? request = null;
        if (method.ClientSends)
        {
            if (frame.Request != "{}")
            {
                return Send(ServerFrames.Error(id, StatusCode.InvalidArgument,
                    $"'{method.FullName}' streams from the client: send its messages in send frames after subscribe, not in 'request'."));
            }
        }
        else
        {
            try
            {
                request = catalog.Json.Parse(frame.Request, method.Descriptor.InputType);
            }
            catch (Exception ex) when (ex is InvalidJsonException or InvalidProtocolBufferException or FormatException or InvalidOperationException)
            {
                return Send(ServerFrames.Error(id, StatusCode.InvalidArgument, $"'request' does not fit {method.Descriptor.InputType.FullName}: {ex.Message}"));
            }
        }

        Subscription subscription;
        Caller caller;
        lock (_gate)
        {
            if (_closed)
            {
                // The connection is closing: nothing new may start.
                return Verdict.Continue;
            }

            if (method.Policy.RequiresToken && _token is null)
            {
                return Send(ServerFrames.Error(id, StatusCode.Unauthenticated,
                    $"'{method.FullName}' needs an access token: send it in init or an auth frame."));
            }

            if (_subscriptions.ContainsKey(id))
            {
                return Send(ServerFrames.Error(id, StatusCode.AlreadyExists, $"Subscription '{id}' is already active on this connection."));
            }

            if (_subscriptions.Count >= _options.MaxSubscriptionsPerConnection)
            {
                return Send(ServerFrames.Error(id, StatusCode.ResourceExhausted,
                    $"This connection already has the maximum of {_options.MaxSubscriptionsPerConnection} subscriptions."));
            }

            caller = new Caller(_address, _subject, _token);
            subscription = new Subscription(id, method, _scheduler, frame.Encoding, catalog.Json, _time.GetUtcNow())
            {
                UsesToken = _token is not null && method.Policy.ForwardsToken,
                Activity = EdgeBridgeActivities.StartSubscription(method, _connectionId, id, _trace),
            };
            _subscriptions[id] = subscription;
        }

        if (_upstreams.Subscribe(subscription, request, caller, metadata) is { } refusal)
        {
            // Nothing was started: the subscription never existed for the client.
            lock (_gate)
            {
                _subscriptions.Remove(id);
            }

            subscription.Cancel((StatusCode)refusal.Code);
            Log.SubscriptionRefused(_logger, _connectionId, id, method.FullName, (StatusCode)refusal.Code);
            return Send(ServerFrames.Error(id, refusal, catalog.Json));
        }

        Log.Subscribed(_logger, _connectionId, id, method.FullName);
        return Verdict.Continue;
    }

    private Verdict Call(ClientFrame.Call frame)
    {
        var id = frame.Id;
        var catalog = _contracts.Current;
        if (_upstreamCalls is null || !catalog.TryGetCall(frame.Method, out var method))
        {
            return Send(ServerFrames.Error(id, StatusCode.NotFound, $"Method '{frame.Method}' is not available as a call."));
        }

        if (frame.Request is null)
        {
            return Send(ServerFrames.Error(id, StatusCode.InvalidArgument, $"'request' must be a JSON object of {method.Descriptor.InputType.FullName}."));
        }

        IMessage request;
        try
        {
            request = catalog.Json.Parse(frame.Request, method.Descriptor.InputType);
        }
        catch (Exception ex) when (ex is InvalidJsonException or InvalidProtocolBufferException or FormatException or InvalidOperationException)
        {
            return Send(ServerFrames.Error(id, StatusCode.InvalidArgument, $"'request' does not fit {method.Descriptor.InputType.FullName}: {ex.Message}"));
        }

        string? token;
        lock (_gate)
        {
            if (_closed)
            {
                return Verdict.Continue;
            }

            token = _token;
            if (method.RequiresToken && token is null)
            {
                return Send(ServerFrames.Error(id, StatusCode.Unauthenticated, $"'{method.FullName}' needs an access token: send it in init or an auth frame."));
            }

            if (_calls.Contains(id) || _subscriptions.ContainsKey(id))
            {
                return Send(ServerFrames.Error(id, StatusCode.AlreadyExists, $"'{id}' is already in use on this connection."));
            }

            if (_calls.Count >= _options.MaxCallsInFlight)
            {
                return Send(ServerFrames.Error(id, StatusCode.ResourceExhausted,
                    $"This connection already has {_options.MaxCallsInFlight} calls waiting for answers."));
            }

            _calls.Add(id);
        }

        _ = AnswerAsync(id, method, request, token, catalog.Json);
        return Verdict.Continue;
    }

    // The answer goes through the control queue like every other; a client that does not read is cut off by the
    // next frame it sends, as for any answer.
    private async Task AnswerAsync(string id, SocketCallMethod method, IMessage request, string? token, ProtoJson json)
    {
        try
        {
            var (response, error) = await _upstreamCalls!.CallAsync(method, request, token, _closing.Token);
            _control.TryEnqueue(response is not null ? ServerFrames.Result(id, json.Format(response)) : ServerFrames.Error(id, error!, json));
        }
        catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException)
        {
            // The connection closed: nobody is left to answer.
        }
        finally
        {
            lock (_gate)
            {
                _calls.Remove(id);
            }
        }
    }

    // A misused send or end ends that stream with the error: an error frame for an id always means the stream is
    // over, so a client never believes a stream ended that the edge still feeds. Other streams go on.
    private Verdict SendUpstream(ClientFrame.Send frame)
    {
        if (ClientStreamOf(frame.Id, "send", out var subscription) is { } refused)
        {
            return refused;
        }

        if (frame.Message is null)
        {
            subscription!.End(StatusCode.InvalidArgument, $"'message' must be a JSON object of {subscription.Method.Descriptor.InputType.FullName}.");
            return Verdict.Continue;
        }

        IMessage message;
        try
        {
            message = (subscription!.Json ?? _contracts.Current.Json).Parse(frame.Message, subscription.Method.Descriptor.InputType);
        }
        catch (Exception ex) when (ex is InvalidJsonException or InvalidProtocolBufferException or FormatException or InvalidOperationException)
        {
            subscription!.End(StatusCode.InvalidArgument, $"'message' does not fit {subscription.Method.Descriptor.InputType.FullName}: {ex.Message}");
            return Verdict.Continue;
        }

        var call = (ClientStreamCall)subscription.Upstream!;
        if (call.Send(message) == SendOutcome.AfterEnd)
        {
            subscription.End(StatusCode.FailedPrecondition, $"Stream '{frame.Id}' was already ended by the client; nothing more can be sent on it.");
        }

        return Verdict.Continue;
    }

    private Verdict EndUpstream(string id)
    {
        if (ClientStreamOf(id, "end", out var subscription) is { } refused)
        {
            return refused;
        }

        // A repeated end changes nothing and needs no answer.
        ((ClientStreamCall)subscription!.Upstream!).End();
        return Verdict.Continue;
    }

    /// <summary>The active client or bidirectional stream <paramref name="id"/>, or the answer when there is none.</summary>
    private Verdict? ClientStreamOf(string id, string frame, out Subscription? subscription)
    {
        bool endedLately;
        lock (_gate)
        {
            _subscriptions.TryGetValue(id, out subscription);
            endedLately = subscription is null && _endedClientStreams.Contains(id);
        }

        if (subscription is null)
        {
            return endedLately ? Verdict.Continue : Send(ServerFrames.Error(id, StatusCode.NotFound, $"No active stream '{id}' to {frame} on."));
        }

        if (subscription.Upstream is ClientStreamCall { Ended: true })
        {
            // Ended, its last frame not yet written: the same as above.
            return Verdict.Continue;
        }

        if (subscription.Upstream is not ClientStreamCall)
        {
            subscription.End(StatusCode.FailedPrecondition,
                $"'{subscription.Method.FullName}' is a server stream: it takes no {frame} frames, and the subscription was ended.");
            return Verdict.Continue;
        }

        return null;
    }

    private Verdict Unsubscribe(string id)
    {
        Subscription? subscription;
        lock (_gate)
        {
            if (_subscriptions.Remove(id, out subscription))
            {
                subscription.Cancel();
            }
        }

        return subscription is null
            ? Send(ServerFrames.Error(id, StatusCode.NotFound, $"No active subscription '{id}'."))
            : Send(ServerFrames.Complete(id));
    }

    private Verdict Send(byte[] frame) => _control.TryEnqueue(frame)
        ? Verdict.Continue
        : Verdict.Close(CloseCodes.RateLimited, "Too many responses waiting for a client that does not read them.");

    private static partial class Log
    {
        [LoggerMessage(EventId = 1, EventName = "Subscribed", Level = LogLevel.Debug, Message = "Connection {ConnectionId} subscribed {SubscriptionId} to {Method}.")]
        public static partial void Subscribed(ILogger logger, string connectionId, string subscriptionId, string method);

        [LoggerMessage(EventId = 2, EventName = "SubscriptionRefused", Level = LogLevel.Information,
            Message = "Connection {ConnectionId} was refused {SubscriptionId} to {Method}: {StatusCode}.")]
        public static partial void SubscriptionRefused(ILogger logger, string connectionId, string subscriptionId, string method, StatusCode statusCode);
    }
}
