using System.Buffers;
using System.Net.WebSockets;
using System.Text.Json;
using EdgeBridge.Contracts;
using EdgeBridge.Internal;
using EdgeBridge.Operations;
using EdgeBridge.Security;
using EdgeBridge.Subscriptions;
using Google.Protobuf;
using Grpc.Core;
using Microsoft.Extensions.Logging;

namespace EdgeBridge.WebSockets;

/// <summary>
/// One <c>edgebridge.v1</c> WebSocket: a receive loop that handles client frames, one writer that drains the
/// subscriptions' queues (so writes never interleave and a slow socket only ever slows itself), and a keepalive
/// that closes connections whose client vanished. Everything the connection started ends with it.
/// </summary>
internal sealed class Connection
{
    private const int FramesPerTurn = 16;

    private readonly WebSocket _socket;
    private readonly WebSocketOptions _options;
    private readonly ContractCatalog _catalog;
    private readonly UpstreamStreams _upstreams;
    private readonly ILogger _logger;
    private readonly OutboundScheduler _scheduler = new();
    private readonly ControlQueue _control;
    private readonly Lock _gate = new();
    private readonly Dictionary<string, Subscription> _subscriptions = new(StringComparer.Ordinal);
    private readonly TokenBucket _inboundRate;
    private readonly IOutboundSource _wakeUp = new WakeUp();
    private readonly TokenValidator _tokens;
    private readonly EdgeBridgeMetrics _metrics;
    private readonly TimeProvider _time;
    private ITimer? _expiryTimer;
    private ITimer? _initTimer;

    // Only without a batching stream (HTTP/2 WebSockets, MaxWriteBatchBytes 0); created with the first frame.
    private ArrayBufferWriter<byte>? _nextBuffer;
    private long _pingSent;
    private string? _token;
    private string? _subject;
    private volatile bool _initialised;
    private int _malformed;
    private long _lastInbound = Environment.TickCount64;
    private int _closeRequested;
    private WebSocketCloseStatus _closeCode;
    private string _closeReason = "";

    public Connection(WebSocket socket, WebSocketOptions options, ContractCatalog catalog, UpstreamStreams upstreams,
        TokenValidator tokens, TimeProvider time, EdgeBridgeMetrics metrics, ILogger logger)
    {
        _metrics = metrics;
        _tokens = tokens;
        _time = time;
        _socket = socket;
        _options = options;
        _catalog = catalog;
        _upstreams = upstreams;
        _logger = logger;
        _control = new ControlQueue(_scheduler, options.MaxPendingControlFrames);
        _inboundRate = new TokenBucket(options.MaxInboundFramesPerSecond, Math.Max(1, options.InboundFrameBurst));
        Id = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(12)).Replace('+', '-').Replace('/', '_');
    }

    public string Id { get; }

    public DateTimeOffset Opened { get; } = DateTimeOffset.UtcNow;

    /// <summary>The client's address, for the admin view.</summary>
    public string RemoteAddress { get; init; } = "";

    /// <summary>The socket's stream when frames of one writer turn are gathered into one write; null otherwise.</summary>
    public CoalescingStream? Batching { get; init; }

    /// <summary>The span of the upgrade request; each subscription's span links to it.</summary>
    public System.Diagnostics.ActivityContext TraceContext { get; init; }

    public WebSocketState State => _socket.State;

    /// <summary>The active subscriptions, for tests and the admin view.</summary>
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

    public async Task RunAsync(CancellationToken aborted)
    {
        EdgeBridgeLog.ConnectionOpened(_logger, Id);

        // Not a cancelled receive: cancelling a WebSocket read aborts the socket, and the client deserves a 4408.
        // The timer goes away with the init frame, so an established connection holds none.
        lock (_gate)
        {
            _initTimer = _time.CreateTimer(static state => ((Connection)state!).InitTimedOut(), this, _options.InitTimeout, Timeout.InfiniteTimeSpan);
        }

        // Called, not Task.Run: it parks on its first wait at once, and an idle connection then holds no extra tasks.
        var writer = WriteLoopAsync();
        try
        {
            await ReceiveLoopAsync(aborted);
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or IOException or ObjectDisposedException)
        {
            // The client went away; what follows cleans up.
        }
        catch (Exception ex)
        {
            EdgeBridgeLog.ConnectionFailed(_logger, Id, ex);
            RequestClose(CloseCodes.InternalError, "Unexpected error; reconnect.");
        }
        finally
        {
            lock (_gate)
            {
                _expiryTimer?.Dispose();
                _expiryTimer = null;
                _initTimer?.Dispose();
                _initTimer = null;
            }

            CancelAllSubscriptions();
            _scheduler.Complete();
            await writer;
            if (_socket.State != WebSocketState.Closed)
            {
                _socket.Abort();
            }

            EdgeBridgeLog.ConnectionClosed(_logger, Id, _closeRequested == 1 ? (int)_closeCode : (int?)null);
        }
    }

    /// <summary>Closes the connection with <paramref name="code"/>; the client gets <paramref name="reason"/>.</summary>
    public void RequestClose(WebSocketCloseStatus code, string reason)
    {
        if (Interlocked.Exchange(ref _closeRequested, 1) == 1)
        {
            return;
        }

        _closeCode = code;
        _closeReason = reason;
        CancelAllSubscriptions();
        _scheduler.Schedule(_wakeUp);

        // A client that neither reads nor answers the close handshake is cut off.
        _ = Task.Delay(_options.CloseTimeout, CancellationToken.None).ContinueWith(
            static (_, state) =>
            {
                var socket = (WebSocket)state!;
                if (socket.State != WebSocketState.Closed)
                {
                    socket.Abort();
                }
            },
            _socket,
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
    }

    private async Task ReceiveLoopAsync(CancellationToken aborted)
    {
        while (true)
        {
            // A zero-byte read waits for the next frame without holding a buffer: idle sockets cost little.
            var result = await _socket.ReceiveAsync(Memory<byte>.Empty, aborted);

            if (result.MessageType == WebSocketMessageType.Close)
            {
                // The writer answers the close handshake; RunAsync waits for it.
                RequestClose(CloseCodes.Normal, "");
                return;
            }

            var buffer = ArrayPool<byte>.Shared.Rent(_options.MaxFrameBytes);
            try
            {
                var length = result.Count;
                while (!result.EndOfMessage)
                {
                    if (length >= _options.MaxFrameBytes)
                    {
                        await CloseFromReceiveLoopAsync(CloseCodes.TooBig, $"Frames are limited to {_options.MaxFrameBytes} bytes.");
                        return;
                    }

                    result = await _socket.ReceiveAsync(buffer.AsMemory(length, _options.MaxFrameBytes - length), aborted);
                    length += result.Count;
                    if (result.MessageType == WebSocketMessageType.Close)
                    {
                        RequestClose(CloseCodes.Normal, "");
                        return;
                    }
                }

                var verdict = await HandleAsync(buffer.AsMemory(0, length), result.MessageType);
                if (verdict is { } close)
                {
                    await CloseFromReceiveLoopAsync(close.Code, close.Reason);
                    return;
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }

            if (Volatile.Read(ref _closeRequested) == 1)
            {
                // Closing from elsewhere (shutdown, keepalive): keep reading only to see the client's close frame.
                await DrainUntilClosedAsync();
                return;
            }
        }
    }

    /// <summary>Handles one complete client frame; returns a close code when the connection must end.</summary>
    private async ValueTask<(WebSocketCloseStatus Code, string Reason)?> HandleAsync(ReadOnlyMemory<byte> frame, WebSocketMessageType type)
    {
        if (!_inboundRate.TryTake())
        {
            return (CloseCodes.RateLimited, $"More than {_options.MaxInboundFramesPerSecond} frames per second.");
        }

        Volatile.Write(ref _lastInbound, Environment.TickCount64);
        _metrics.FrameReceived(frame.Length);
        if (type != WebSocketMessageType.Text)
        {
            return Reject("Frames must be text frames holding one JSON object.");
        }

        JsonDocument document;
        try
        {
            // Parsed in place: the document is disposed before the pooled buffer goes back.
            document = JsonDocument.Parse(frame);
        }
        catch (JsonException)
        {
            return Reject("The frame is not valid JSON.");
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("type", out var typeElement) || typeElement.ValueKind != JsonValueKind.String)
            {
                return Reject("The frame must be a JSON object with a string 'type'.");
            }

            var frameType = typeElement.GetString();
            if (!_initialised)
            {
                return frameType == "init"
                    ? await InitAsync(root)
                    : (CloseCodes.Unauthorized, "The first frame must be init.");
            }

            return frameType switch
            {
                "subscribe" => Subscribe(root),
                "unsubscribe" => Unsubscribe(root),
                "ping" => Send(ServerFrames.Pong),
                "pong" => null,
                "auth" => await AuthAsync(root),
                "init" => Reject("The connection is already initialised."),
                _ => Reject($"Unknown frame type '{frameType}'."),
            };
        }
    }

    private async ValueTask<(WebSocketCloseStatus, string)?> InitAsync(JsonElement root)
    {
        if (root.TryGetProperty("token", out var token) && token.ValueKind != JsonValueKind.Null)
        {
            if (token.ValueKind != JsonValueKind.String)
            {
                return (CloseCodes.Unauthorized, "init.token must be a string.");
            }

            var check = await _tokens.ValidateAsync(token.GetString()!);
            if (!check.Valid)
            {
                return (CloseCodes.Unauthorized, $"The token was rejected: {check.Problem}.");
            }

            SetToken(token.GetString()!, check);
        }

        _initialised = true;
        lock (_gate)
        {
            _initTimer?.Dispose();
            _initTimer = null;
        }

        return Send(ServerFrames.Ack(Id, _options));
    }

    /// <summary>Replaces the connection's token (refresh before expiry). The user may not change.</summary>
    private async ValueTask<(WebSocketCloseStatus, string)?> AuthAsync(JsonElement root)
    {
        if (!root.TryGetProperty("token", out var token) || token.ValueKind != JsonValueKind.String)
        {
            return Reject("auth needs a string 'token'.");
        }

        var check = await _tokens.ValidateAsync(token.GetString()!);
        if (!check.Valid)
        {
            return Send(ServerFrames.Error(null, StatusCode.Unauthenticated, $"The token was rejected: {check.Problem}; the previous token stays in use."));
        }

        if (_subject is not null && !string.Equals(_subject, check.Subject, StringComparison.Ordinal))
        {
            return Send(ServerFrames.Error(null, StatusCode.PermissionDenied, "The token is for another user; open a new connection to switch users."));
        }

        SetToken(token.GetString()!, check);
        return Send(ServerFrames.Ack(Id, _options));
    }

    private void SetToken(string token, TokenCheck check)
    {
        lock (_gate)
        {
            _token = token;
            _subject = check.Subject;
            _expiryTimer?.Dispose();
            _expiryTimer = null;
            if (check.Expires != DateTimeOffset.MaxValue)
            {
                var due = check.Expires - _time.GetUtcNow();
                _expiryTimer = _time.CreateTimer(static state => ((Connection)state!).TokenExpired(), this,
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
            subscription.End(StatusCode.Unauthenticated, ServerFrames.Error(subscription.Id, StatusCode.Unauthenticated,
                "The access token expired; send an auth frame with a fresh token and subscribe again."));
        }
    }

    private (WebSocketCloseStatus, string)? Subscribe(JsonElement root)
    {
        if (!TryGetId(root, out var id))
        {
            return Reject("subscribe needs an 'id' of 1 to 64 characters.");
        }

        if (!root.TryGetProperty("method", out var methodElement) || methodElement.ValueKind != JsonValueKind.String)
        {
            return Reject("subscribe needs a string 'method' (package.Service/Method).");
        }

        var methodName = methodElement.GetString()!;
        if (!_catalog.TryGet(methodName, out var method))
        {
            return Send(ServerFrames.Error(id, StatusCode.NotFound, $"Method '{methodName}' is not available for subscription."));
        }

        var encoding = MessageEncoding.Json;
        if (root.TryGetProperty("encoding", out var encodingElement) && encodingElement.ValueKind != JsonValueKind.Null)
        {
            if (encodingElement.ValueKind != JsonValueKind.String || !TryParseEncoding(encodingElement.GetString()!, out encoding))
            {
                return Send(ServerFrames.Error(id, StatusCode.InvalidArgument, "'encoding' must be \"json\" or \"proto\"."));
            }
        }

        var json = "{}";
        if (root.TryGetProperty("request", out var requestElement) && requestElement.ValueKind != JsonValueKind.Null)
        {
            if (requestElement.ValueKind != JsonValueKind.Object)
            {
                return Send(ServerFrames.Error(id, StatusCode.InvalidArgument, $"'request' must be a JSON object of {method.Descriptor.InputType.FullName}."));
            }

            json = requestElement.GetRawText();
        }

        IMessage request;
        try
        {
            request = _catalog.Json.Parser.Parse(json, method.Descriptor.InputType);
        }
        catch (Exception ex) when (ex is InvalidJsonException or InvalidProtocolBufferException or FormatException or InvalidOperationException)
        {
            return Send(ServerFrames.Error(id, StatusCode.InvalidArgument, $"'request' does not fit {method.Descriptor.InputType.FullName}: {ex.Message}"));
        }

        Subscription subscription;
        string? token;
        lock (_gate)
        {
            token = _token;
            if (method.Policy.RequiresToken && token is null)
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

            subscription = new Subscription(id, method, _scheduler, encoding)
            {
                UsesToken = token is not null && method.Policy.ForwardsToken,
                Activity = EdgeBridgeActivities.StartSubscription(method, Id, id, TraceContext),
            };
            _subscriptions[id] = subscription;
        }

        _upstreams.Subscribe(subscription, request, token);
        EdgeBridgeLog.Subscribed(_logger, Id, id, method.FullName);
        return null;
    }

    private static bool TryParseEncoding(string value, out MessageEncoding encoding)
    {
        (var known, encoding) = value switch
        {
            "json" => (true, MessageEncoding.Json),
            "proto" => (true, MessageEncoding.Proto),
            _ => (false, MessageEncoding.Json),
        };
        return known;
    }

    private (WebSocketCloseStatus, string)? Unsubscribe(JsonElement root)
    {
        if (!TryGetId(root, out var id))
        {
            return Reject("unsubscribe needs an 'id' of 1 to 64 characters.");
        }

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

    private static bool TryGetId(JsonElement root, out string id)
    {
        id = root.TryGetProperty("id", out var element) && element.ValueKind == JsonValueKind.String ? element.GetString()! : "";
        return id.Length is >= 1 and <= 64;
    }

    private (WebSocketCloseStatus, string)? Reject(string message)
    {
        _metrics.FrameRejected("malformed");
        if (++_malformed > _options.MaxMalformedFrames)
        {
            return (CloseCodes.TooManyMalformedFrames, $"More than {_options.MaxMalformedFrames} malformed frames.");
        }

        return Send(ServerFrames.Error(null, StatusCode.InvalidArgument, message));
    }

    private (WebSocketCloseStatus, string)? Send(byte[] frame) => _control.TryEnqueue(frame)
        ? null
        : (CloseCodes.RateLimited, "Too many responses waiting for a client that does not read them.");

    private async Task WriteLoopAsync()
    {
        try
        {
            while (await _scheduler.WaitToReadAsync())
            {
                // Everything ready now goes out in as few writes as the batch size allows.
                Batching?.BeginBatch();
                while (Volatile.Read(ref _closeRequested) == 0 && _scheduler.TryRead(out var source))
                {
                    var turn = 0;
                    var more = false;
                    while (true)
                    {
                        // Answers go first. Draining them before taking a frame also means that once an
                        // unsubscribe's complete is written, no next frame of that subscription follows it.
                        await WriteControlFramesAsync(source);
                        if (!source.TryTake(out var frame))
                        {
                            break;
                        }

                        await WriteAsync(frame);
                        if (++turn == FramesPerTurn)
                        {
                            // Let the other subscriptions of this socket have their turn.
                            more = true;
                            break;
                        }
                    }

                    if (more)
                    {
                        _scheduler.Schedule(source);
                    }
                    else
                    {
                        source.Drained();
                    }
                }

                if (Batching is { } batching)
                {
                    await batching.EndBatchAsync();
                }

                if (Volatile.Read(ref _closeRequested) == 1)
                {
                    // Last words first (e.g. the error that caused the close), then the close frame.
                    await WriteControlFramesAsync(null);
                    await _socket.CloseOutputAsync(_closeCode, _closeReason, CancellationToken.None);
                    return;
                }
            }
        }
        catch (Exception ex) when (ex is WebSocketException or IOException or ObjectDisposedException or OperationCanceledException)
        {
            _socket.Abort();
        }
    }

    private async Task WriteControlFramesAsync(IOutboundSource? current)
    {
        if (ReferenceEquals(current, _control))
        {
            return;
        }

        while (_control.TryTake(out var frame))
        {
            await SendTextAsync(frame.Bytes);
        }
    }

    // With a batching stream the frame goes straight into the batch; otherwise the WebSocket frames it.
    private ValueTask SendTextAsync(ReadOnlyMemory<byte> payload) => Batching is { } batching
        ? batching.WriteTextFrameAsync(payload)
        : _socket.SendAsync(payload, WebSocketMessageType.Text, endOfMessage: true, CancellationToken.None);

    private async ValueTask WriteAsync(OutboundFrame frame)
    {
        if (frame.NextPrefix is null)
        {
            await SendTextAsync(frame.Bytes);
            _metrics.Sent(frame.Bytes.Length);
        }
        else if (Batching is { } batching)
        {
            // Assembled straight into the socket's batch: the shared message bytes are copied once per subscriber.
            var length = ServerFrames.NextLength(frame.NextPrefix, frame.Dropped, frame.Bytes.Length, frame.Encoding);
            await batching.WriteFrameAsync(frame.Encoding == MessageEncoding.Proto, length, frame, static (destination, frame) =>
                ServerFrames.WriteNext(destination, frame.NextPrefix!, frame.Dropped, frame.Bytes, frame.Encoding));
            _metrics.Delivered(length);
        }
        else
        {
            var buffer = _nextBuffer ??= new ArrayBufferWriter<byte>(256);
            buffer.ResetWrittenCount();
            var length = ServerFrames.WriteNext(buffer, frame.NextPrefix, frame.Dropped, frame.Bytes, frame.Encoding);
            var type = frame.Encoding == MessageEncoding.Proto ? WebSocketMessageType.Binary : WebSocketMessageType.Text;
            await _socket.SendAsync(buffer.WrittenMemory, type, endOfMessage: true, CancellationToken.None);
            _metrics.Delivered(length);
        }

        if (frame.Ends is { } ended)
        {
            lock (_gate)
            {
                if (_subscriptions.TryGetValue(ended.Id, out var current) && ReferenceEquals(current, ended))
                {
                    _subscriptions.Remove(ended.Id);
                }
            }
        }
    }

    /// <summary>
    /// One tick of the registry's keepalive sweep: pings a client that has been quiet for the keepalive interval
    /// and aborts one that stayed silent for the timeout after that (one timer for all connections, not one each).
    /// </summary>
    public void KeepAlive(long now)
    {
        if (!_initialised)
        {
            return;
        }

        var last = Volatile.Read(ref _lastInbound);
        if (now - last >= (_options.KeepAliveInterval + _options.KeepAliveTimeout).TotalMilliseconds)
        {
            // No frame, not even a pong: the client is gone. Nobody is left to hear a close frame.
            EdgeBridgeLog.ConnectionVanished(_logger, Id);
            _socket.Abort();
            return;
        }

        if (now - last >= _options.KeepAliveInterval.TotalMilliseconds && Interlocked.Read(ref _pingSent) <= last)
        {
            Interlocked.Exchange(ref _pingSent, now);
            if (!_control.TryEnqueue(ServerFrames.Ping))
            {
                _socket.Abort();
            }
        }
    }

    private void InitTimedOut()
    {
        if (!_initialised)
        {
            EdgeBridgeLog.ClosingConnection(_logger, Id, (int)CloseCodes.Timeout, "init timeout");
            RequestClose(CloseCodes.Timeout, "No init frame within the init timeout.");
        }
    }

    private async Task CloseFromReceiveLoopAsync(WebSocketCloseStatus code, string reason)
    {
        EdgeBridgeLog.ClosingConnection(_logger, Id, (int)code, reason);
        RequestClose(code, reason);
        await DrainUntilClosedAsync();
    }

    /// <summary>Reads (and ignores) frames until the client's close frame arrives or the socket is aborted.</summary>
    private async Task DrainUntilClosedAsync()
    {
        var scratch = ArrayPool<byte>.Shared.Rent(4096);
        try
        {
            while (_socket.State is WebSocketState.Open or WebSocketState.CloseSent)
            {
                var result = await _socket.ReceiveAsync(scratch.AsMemory(), CancellationToken.None);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    return;
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(scratch);
        }
    }

    private void CancelAllSubscriptions()
    {
        List<Subscription> subscriptions;
        lock (_gate)
        {
            subscriptions = [.. _subscriptions.Values];
            _subscriptions.Clear();
        }

        foreach (var subscription in subscriptions)
        {
            subscription.Cancel();
        }
    }

    /// <summary>Wakes the writer (e.g. to close) without carrying frames.</summary>
    private sealed class WakeUp : IOutboundSource
    {
        public bool TryTake(out OutboundFrame frame)
        {
            frame = default;
            return false;
        }

        public void Drained()
        {
        }
    }
}

/// <summary>A token bucket refilled with <c>rate</c> tokens per second up to <c>burst</c>.</summary>
internal sealed class TokenBucket(int rate, int burst)
{
    private double _tokens = burst;
    private long _last = Environment.TickCount64;

    public bool TryTake()
    {
        var now = Environment.TickCount64;
        _tokens = Math.Min(burst, _tokens + (now - _last) * rate / 1000.0);
        _last = now;
        if (_tokens < 1)
        {
            return false;
        }

        _tokens--;
        return true;
    }
}
