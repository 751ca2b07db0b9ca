using System.Buffers;
using System.Net.WebSockets;
using EdgeBridge.Diagnostics;
using Grpc.Core;
using Microsoft.Extensions.Logging;

namespace EdgeBridge.WebSockets;

/// <summary>
/// The transport of one <c>edgebridge.v1</c> WebSocket: a receive loop that assembles client frames and hands them,
/// parsed (<see cref="ClientFrames"/>), to the <see cref="WebSocketSession"/>; one writer that drains the control
/// queue and the subscriptions (so writes never interleave and a slow socket only ever slows itself); the close
/// handshake; and the keepalive that closes connections whose client vanished. Everything the connection started
/// ends with it.
/// </summary>
internal sealed partial class WebSocketConnection
{
    private const int FramesPerTurn = 16;

    private readonly WebSocket _socket;
    private readonly EdgeWebSocketOptions _options;
    private readonly ILogger _logger;
    private readonly OutboundScheduler _scheduler;
    private readonly ControlQueue _control;
    private readonly TokenBucket _inboundRate;
    private readonly IOutboundSource _wakeUp = new WakeUp();
    private readonly EdgeBridgeMetrics _metrics;
    private readonly TimeProvider _time;
    private readonly Lock _gate = new();
    private ITimer? _initTimer;

    // Only without a batching stream (HTTP/2 WebSockets, MaxWriteBatchBytes 0); created with the first frame.
    private ArrayBufferWriter<byte>? _nextBuffer;
    private long _pingSent;
    private int _malformed;
    private long _lastInbound;
    private int _closeRequested;
    private WebSocketCloseStatus _closeCode;
    private string _closeReason = "";

    /// <summary>
    /// A connection with its id (<see cref="NewId"/>, the session's too), its session, the writer's wake-up on which
    /// the session's subscriptions schedule themselves, and the queue of the frames the session answers with.
    /// </summary>
    public WebSocketConnection(string id, WebSocket socket, EdgeWebSocketOptions options, WebSocketSession session, OutboundScheduler scheduler,
        ControlQueue control, TimeProvider time, EdgeBridgeMetrics metrics, ILogger<WebSocketConnection> logger)
    {
        Id = id;
        Session = session;
        _socket = socket;
        _options = options;
        _scheduler = scheduler;
        _control = control;
        _time = time;
        _metrics = metrics;
        _logger = logger;
        _inboundRate = new TokenBucket(options.MaxInboundFramesPerSecond, Math.Max(1, options.InboundFrameBurst), time);
        _lastInbound = time.GetTimestamp();
        Opened = time.GetUtcNow();
    }

    /// <summary>A connection id: random, URL-safe, unguessable (operators close connections by it).</summary>
    public static string NewId() =>
        Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(12)).Replace('+', '-').Replace('/', '_');

    public string Id { get; }

    public DateTimeOffset Opened { get; }

    /// <summary>The client's address, for the admin view.</summary>
    public string RemoteAddress { get; init; } = "";

    /// <summary>The socket's stream when frames of one writer turn are gathered into one write; null otherwise.</summary>
    public CoalescingStream? Batching { get; init; }

    public WebSocketSession Session { get; }

    public WebSocketState State => _socket.State;

    /// <summary>The active subscriptions, for tests and the admin view.</summary>
    public IReadOnlyList<Subscription> Subscriptions => Session.Subscriptions;

    public async Task RunAsync(CancellationToken aborted)
    {
        Log.ConnectionOpened(_logger, Id);

        // Not a cancelled receive: cancelling a WebSocket read aborts the socket, and the client deserves a 4408.
        // The timer goes away with the init frame, so an established connection holds none.
        lock (_gate)
        {
            _initTimer = _time.CreateTimer(static state => ((WebSocketConnection)state!).InitTimedOut(), this, _options.InitTimeout, Timeout.InfiniteTimeSpan);
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
            Log.ConnectionFailed(_logger, Id, ex);
            RequestClose(CloseCodes.InternalError, "Unexpected error; reconnect.");
        }
        finally
        {
            DisposeInitTimer();
            Session.Close();
            _scheduler.Complete();
            await writer;
            if (_socket.State != WebSocketState.Closed)
            {
                _socket.Abort();
            }

            Log.ConnectionClosed(_logger, Id, _closeRequested == 1 ? (int)_closeCode : null);
        }
    }

    /// <summary>
    /// Tells the client that the edge is draining (<paramref name="goAway"/>, one frame shared by every connection);
    /// a connection that has not been initialised, or cannot take one more control frame, is closed with 1001 at once.
    /// </summary>
    public void GoAway(byte[] goAway)
    {
        if (!Session.Initialised || !_control.TryEnqueue(goAway))
        {
            RequestClose(CloseCodes.GoingAway, ConnectionRegistry.GoingAwayReason);
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
        Session.Close();
        _scheduler.Schedule(_wakeUp);

        // A client that neither reads nor answers the close handshake is cut off.
        _ = Task.Delay(_options.CloseTimeout, _time).ContinueWith(
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
                if (verdict.CloseCode is { } code)
                {
                    await CloseFromReceiveLoopAsync(code, verdict.Message ?? "");
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

    /// <summary>Handles one complete client frame: the rate and malformed-frame limits here, the command in the session.</summary>
    private async ValueTask<Verdict> HandleAsync(ReadOnlyMemory<byte> frame, WebSocketMessageType type)
    {
        if (!_inboundRate.TryTake())
        {
            return Verdict.Close(CloseCodes.RateLimited, $"More than {_options.MaxInboundFramesPerSecond} frames per second.");
        }

        Volatile.Write(ref _lastInbound, _time.GetTimestamp());
        _metrics.FrameReceived(frame.Length);
        var verdict = await Session.HandleAsync(ClientFrames.Parse(frame, type));
        if (Session.Initialised)
        {
            DisposeInitTimer();
        }

        return verdict.IsReject ? Reject(verdict.Message!) : verdict;
    }

    private Verdict Reject(string problem)
    {
        _metrics.FrameRejected("malformed");
        if (++_malformed > _options.MaxMalformedFrames)
        {
            return Verdict.Close(CloseCodes.TooManyMalformedFrames, $"More than {_options.MaxMalformedFrames} malformed frames.");
        }

        return _control.TryEnqueue(ServerFrames.Error(null, StatusCode.InvalidArgument, problem))
            ? Verdict.Continue
            : Verdict.Close(CloseCodes.RateLimited, "Too many responses waiting for a client that does not read them.");
    }

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
            await batching.WriteFrameAsync(frame.Encoding == Streams.MessageEncoding.Proto, length, frame, static (destination, frame) =>
                ServerFrames.WriteNext(destination, frame.NextPrefix!, frame.Dropped, frame.Bytes, frame.Encoding));
            _metrics.Delivered(length);
        }
        else
        {
            var buffer = _nextBuffer ??= new ArrayBufferWriter<byte>(256);
            buffer.ResetWrittenCount();
            var length = ServerFrames.WriteNext(buffer, frame.NextPrefix, frame.Dropped, frame.Bytes, frame.Encoding);
            var type = frame.Encoding == Streams.MessageEncoding.Proto ? WebSocketMessageType.Binary : WebSocketMessageType.Text;
            await _socket.SendAsync(buffer.WrittenMemory, type, endOfMessage: true, CancellationToken.None);
            _metrics.Delivered(length);
        }

        if (frame.Ends is { } ended)
        {
            Session.Ended(ended);
        }
    }

    /// <summary>
    /// One tick of the registry's keepalive sweep (<paramref name="now"/> from <see cref="TimeProvider.GetTimestamp"/>):
    /// pings a client that has been quiet for the keepalive interval and aborts one that stayed silent for the
    /// timeout after that (one timer for all connections, not one each).
    /// </summary>
    public void KeepAlive(long now)
    {
        if (!Session.Initialised)
        {
            return;
        }

        var last = Volatile.Read(ref _lastInbound);
        var quiet = _time.GetElapsedTime(last, now);
        if (quiet >= _options.KeepAliveInterval + _options.KeepAliveTimeout)
        {
            // No frame, not even a pong: the client is gone. Nobody is left to hear a close frame.
            Log.ConnectionVanished(_logger, Id);
            _socket.Abort();
            return;
        }

        if (quiet >= _options.KeepAliveInterval && Interlocked.Read(ref _pingSent) <= last)
        {
            Interlocked.Exchange(ref _pingSent, now);
            if (!_control.TryEnqueue(ServerFrames.Ping))
            {
                _socket.Abort();
            }
        }
    }

    private void DisposeInitTimer()
    {
        lock (_gate)
        {
            _initTimer?.Dispose();
            _initTimer = null;
        }
    }

    private void InitTimedOut()
    {
        if (!Session.Initialised)
        {
            Log.ClosingConnection(_logger, Id, (int)CloseCodes.Timeout, "init timeout");
            RequestClose(CloseCodes.Timeout, "No init frame within the init timeout.");
        }
    }

    private async Task CloseFromReceiveLoopAsync(WebSocketCloseStatus code, string reason)
    {
        Log.ClosingConnection(_logger, Id, (int)code, reason);
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

    private static partial class Log
    {
        [LoggerMessage(EventId = 1, EventName = "ConnectionOpened", Level = LogLevel.Debug, Message = "WebSocket connection {ConnectionId} opened.")]
        public static partial void ConnectionOpened(ILogger logger, string connectionId);

        [LoggerMessage(EventId = 2, EventName = "ConnectionClosed", Level = LogLevel.Debug, Message = "WebSocket connection {ConnectionId} ended (close code {CloseCode}).")]
        public static partial void ConnectionClosed(ILogger logger, string connectionId, int? closeCode);

        [LoggerMessage(EventId = 3, EventName = "ClosingConnection", Level = LogLevel.Information, Message = "Closing WebSocket connection {ConnectionId} with {CloseCode}: {Reason}")]
        public static partial void ClosingConnection(ILogger logger, string connectionId, int closeCode, string reason);

        [LoggerMessage(EventId = 4, EventName = "ConnectionVanished", Level = LogLevel.Information, Message = "WebSocket connection {ConnectionId} stopped answering pings; aborted.")]
        public static partial void ConnectionVanished(ILogger logger, string connectionId);

        [LoggerMessage(EventId = 5, EventName = "ConnectionFailed", Level = LogLevel.Error, Message = "WebSocket connection {ConnectionId} failed unexpectedly; closing with 1011.")]
        public static partial void ConnectionFailed(ILogger logger, string connectionId, Exception exception);
    }
}

/// <summary>A token bucket refilled with <c>rate</c> tokens per second up to <c>burst</c>, on <paramref name="time"/>'s clock.</summary>
internal sealed class TokenBucket(int rate, int burst, TimeProvider time)
{
    private double _tokens = burst;
    private long _last = time.GetTimestamp();

    public bool TryTake()
    {
        var now = time.GetTimestamp();
        _tokens = Math.Min(burst, _tokens + time.GetElapsedTime(_last, now).TotalSeconds * rate);
        _last = now;
        if (_tokens < 1)
        {
            return false;
        }

        _tokens--;
        return true;
    }
}
