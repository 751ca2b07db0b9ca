using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;

namespace EdgeBridge.FunctionalTests.Common;

/// <summary>A real <see cref="ClientWebSocket"/> speaking <c>edgebridge.v1</c> to the edge, with deadline-bound reads.</summary>
public sealed class EdgeSocket : IAsyncDisposable
{
    private readonly ClientWebSocket _socket;
    private readonly HttpMessageInvoker _invoker;

    private EdgeSocket(ClientWebSocket socket, HttpMessageInvoker invoker)
    {
        _socket = socket;
        _invoker = invoker;
    }

    public WebSocketState State => _socket.State;

    public WebSocketCloseStatus? CloseStatus => _socket.CloseStatus;

    public static async Task<EdgeSocket> ConnectAsync(EdgeServer edge, string? subprotocol = "edgebridge.v1", int? receiveBufferBytes = null,
        IPAddress? localAddress = null, string? origin = null, IPAddress? proxiedFrom = null)
    {
        var socket = new ClientWebSocket();
        if (subprotocol is not null)
        {
            socket.Options.AddSubProtocol(subprotocol);
        }

        if (origin is not null)
        {
            socket.Options.SetRequestHeader("Origin", origin);
        }

        socket.Options.CollectHttpResponseDetails = true;
        socket.Options.KeepAliveInterval = TimeSpan.Zero;
        var handler = new SocketsHttpHandler
        {
            // A small kernel receive buffer makes a client that stops reading push back on the edge quickly.
            ConnectCallback = async (context, token) =>
            {
                var raw = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                if (receiveBufferBytes is { } size)
                {
                    raw.ReceiveBufferSize = size;
                }

                if (localAddress is not null)
                {
                    // Another loopback source address: another client as far as per-address limits go.
                    raw.Bind(new IPEndPoint(localAddress, 0));
                }

                await raw.ConnectAsync(context.DnsEndPoint, token);
                var stream = new NetworkStream(raw, ownsSocket: true);
                if (proxiedFrom is not null)
                {
                    // As a balancer would: the connection starts by naming the client it carries.
                    await stream.WriteAsync(ProxyHeader.V2(new IPEndPoint(proxiedFrom, 40000), (IPEndPoint)raw.RemoteEndPoint!), token);
                }

                return stream;
            },
        };
        var invoker = new HttpMessageInvoker(handler);
        using var timeout = new CancellationTokenSource(Wait.Deadline);
        await socket.ConnectAsync(new Uri($"ws://127.0.0.1:{edge.HttpPort}/ws"), invoker, timeout.Token);
        return new EdgeSocket(socket, invoker);
    }

    /// <summary>Connects and sends <c>init</c>; returns once the <c>ack</c> arrived.</summary>
    public static async Task<(EdgeSocket Socket, JsonElement Ack)> OpenAsync(EdgeServer edge, string? token = null, int? receiveBufferBytes = null,
        IPAddress? localAddress = null, IPAddress? proxiedFrom = null)
    {
        var socket = await ConnectAsync(edge, receiveBufferBytes: receiveBufferBytes, localAddress: localAddress, proxiedFrom: proxiedFrom);
        await socket.SendAsync(token is null ? new { type = "init" } : new { type = "init", token });
        var ack = await socket.ReceiveAsync();
        Assert.Equal("ack", ack.GetProperty("type").GetString());
        return (socket, ack);
    }

    /// <summary>Attempts an upgrade and returns the HTTP status the edge answered with.</summary>
    public static async Task<HttpStatusCode> RefusedStatusAsync(EdgeServer edge, string? subprotocol, string? origin = null)
    {
        using var socket = new ClientWebSocket();
        if (subprotocol is not null)
        {
            socket.Options.AddSubProtocol(subprotocol);
        }

        if (origin is not null)
        {
            socket.Options.SetRequestHeader("Origin", origin);
        }

        socket.Options.CollectHttpResponseDetails = true;
        using var timeout = new CancellationTokenSource(Wait.Deadline);
        await Assert.ThrowsAsync<WebSocketException>(() => socket.ConnectAsync(new Uri($"ws://127.0.0.1:{edge.HttpPort}/ws"), timeout.Token));
        return socket.HttpStatusCode;
    }

    public Task SendAsync(object frame) => SendTextAsync(JsonSerializer.Serialize(frame));

    public Task SubscribeAsync(string id, string method, object? request = null) =>
        SendAsync(request is null ? new { type = "subscribe", id, method } : new { type = "subscribe", id, method, request });

    public async Task SendTextAsync(string text)
    {
        using var timeout = new CancellationTokenSource(Wait.Deadline);
        await _socket.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, endOfMessage: true, timeout.Token);
    }

    public async Task SendBytesAsync(byte[] bytes, WebSocketMessageType type = WebSocketMessageType.Text)
    {
        using var timeout = new CancellationTokenSource(Wait.Deadline);
        await _socket.SendAsync(bytes, type, endOfMessage: true, timeout.Token);
    }

    /// <summary>The next frame; fails if none arrives before the deadline or the socket closes.</summary>
    public async Task<JsonElement> ReceiveAsync(TimeSpan? deadline = null)
    {
        var text = await ReceiveTextAsync(deadline) ?? throw new InvalidOperationException($"The socket closed: {_socket.CloseStatus} {_socket.CloseStatusDescription}");
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    /// <summary>Frames until one matches; the skipped ones are returned too, in order.</summary>
    public async Task<(JsonElement Match, List<JsonElement> Before)> ReceiveUntilAsync(Func<JsonElement, bool> match)
    {
        var before = new List<JsonElement>();
        using var timeout = new CancellationTokenSource(Wait.Deadline);
        while (true)
        {
            var frame = await ReceiveAsync(Wait.Deadline);
            if (match(frame))
            {
                return (frame, before);
            }

            before.Add(frame);
        }
    }

    /// <summary>Reads until the server closes; returns the close status it sent.</summary>
    public async Task<WebSocketCloseStatus?> ReceiveCloseAsync()
    {
        using var timeout = new CancellationTokenSource(Wait.Deadline);
        var buffer = new byte[64 * 1024];
        try
        {
            while (true)
            {
                var result = await _socket.ReceiveAsync(buffer, timeout.Token);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    // Answer the close handshake, as a browser does.
                    await _socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "", timeout.Token);
                    return result.CloseStatus;
                }
            }
        }
        catch (WebSocketException)
        {
            return _socket.CloseStatus;
        }
    }

    private async Task<string?> ReceiveTextAsync(TimeSpan? deadline)
    {
        if (await ReceiveMessageAsync(deadline) is not var (type, payload))
        {
            return null;
        }

        return type == WebSocketMessageType.Text
            ? Encoding.UTF8.GetString(payload)
            : throw new InvalidOperationException($"Expected a text frame, got a {type} frame of {payload.Length} bytes.");
    }

    /// <summary>The next message, text or binary; null when the socket closes.</summary>
    public async Task<(WebSocketMessageType Type, byte[] Payload)?> ReceiveMessageAsync(TimeSpan? deadline = null)
    {
        using var timeout = new CancellationTokenSource(deadline ?? Wait.Deadline);
        var buffer = new byte[16 * 1024];
        using var message = new MemoryStream();
        while (true)
        {
            var result = await _socket.ReceiveAsync(buffer, timeout.Token);
            if (result.MessageType == WebSocketMessageType.Close)
            {
                return null;
            }

            message.Write(buffer, 0, result.Count);
            if (result.EndOfMessage)
            {
                return (result.MessageType, message.ToArray());
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_socket.State == WebSocketState.Open)
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            try
            {
                await _socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "", timeout.Token);
            }
            catch (Exception ex) when (ex is WebSocketException or OperationCanceledException)
            {
            }
        }

        _socket.Dispose();
        _invoker.Dispose();
    }

    /// <summary>Closes the socket without the close handshake, as a crashed tab would.</summary>
    public void Abort() => _socket.Abort();
}

public static class Frames
{
    public static string Type(this JsonElement frame) => frame.GetProperty("type").GetString()!;

    public static string? Id(this JsonElement frame) => frame.TryGetProperty("id", out var id) ? id.GetString() : null;

    public static int Code(this JsonElement frame) => frame.GetProperty("status").GetProperty("code").GetInt32();
}
