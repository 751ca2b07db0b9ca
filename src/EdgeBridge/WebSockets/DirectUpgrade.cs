using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.WebSockets;
using System.Text;
using EdgeBridge.Security;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace EdgeBridge.WebSockets;

/// <summary>
/// Takes WebSocket upgrades to the endpoint at the connection level, before Kestrel's HTTP/1.1 layer, so that a
/// socket accepted here carries no HTTP request state (connection, headers, body pipes, request features) for the
/// rest of its life: about half the memory of an idle connection (docs/benchmarks.md). Only a plain, well-formed
/// upgrade that will be accepted is taken here; anything else — another path, an unusual or malformed request, a
/// refused origin, a full or draining edge, TLS — continues untouched to Kestrel, and the HTTP endpoint
/// (<see cref="WebSocketEndpoint"/>) answers it as it always does.
/// </summary>
internal sealed class DirectUpgrade(ConnectionDelegate next, IServiceProvider services, Func<EdgeBridgeOptions, bool> enabled)
{
    private readonly TimeProvider _time = services.GetRequiredService<TimeProvider>();
    private readonly IOptionsMonitor<EdgeBridgeOptions> _options = services.GetRequiredService<IOptionsMonitor<EdgeBridgeOptions>>();
    private readonly ConnectionRegistry _registry = services.GetRequiredService<ConnectionRegistry>();
    private readonly HandshakeAdmission _admission = services.GetRequiredService<HandshakeAdmission>();
    private readonly IOptionsMonitor<Microsoft.AspNetCore.HostFiltering.HostFilteringOptions>? _hostFiltering =
        services.GetService<IOptionsMonitor<Microsoft.AspNetCore.HostFiltering.HostFilteringOptions>>();
    private readonly TimeSpan _headersTimeout = services.GetRequiredService<IOptions<KestrelServerOptions>>().Value.Limits.RequestHeadersTimeout;

    // The path is mapped once at startup, so it is read once here too.
    private readonly byte[] _requestLine = UpgradeRequest.RequestLine(services.GetRequiredService<IOptions<EdgeBridgeOptions>>().Value.WebSockets.Path);

    public async Task OnConnectionAsync(ConnectionContext context)
    {
        var current = _options.CurrentValue;
        var options = current.WebSockets;
        if (!enabled(current) || await ReadUpgradeAsync(context) is not { } request)
        {
            await next(context);
            return;
        }

        var address = (context.RemoteEndPoint as IPEndPoint)?.Address ?? IPAddress.None;
        if (!IsAllowed(request) || _registry.Stopping || _admission.TryAdmit(address) is not null || _registry.TryReserve(address, options) is not null)
        {
            // Refusals are the HTTP endpoint's to answer, in its own words (it asks admission again: a refused
            // handshake counts twice in the spread of Retry-After, which only widens it).
            await next(context);
            return;
        }

        try
        {
            await AcceptAsync(context, request, address, options);
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or ConnectionResetException or ConnectionAbortedException)
        {
            // The client went away during the handshake: nothing to answer, nothing to log.
        }
        finally
        {
            _registry.Release(address);
        }
    }

    /// <summary>
    /// Reads until the request head is complete or clearly not an upgrade to the endpoint, then leaves every byte
    /// where it was: Kestrel (or the WebSocket, once accepted) reads them again.
    /// </summary>
    private async Task<UpgradeRequest?> ReadUpgradeAsync(ConnectionContext context)
    {
        var input = context.Transport.Input;

        // A client that trickles its head gets as long as Kestrel would give it, then Kestrel's own timeout.
        using var timeout = new CancellationTokenSource(_headersTimeout, _time);
        using var cancel = timeout.Token.Register(static state => ((PipeReader)state!).CancelPendingRead(), input);
        byte[]? rented = null;
        long searched = 0;
        try
        {
            while (true)
            {
                var result = await input.ReadAsync(context.ConnectionClosed);
                var buffer = result.Buffer;
                if (StartsLikeUpgrade(buffer) && !HeadEnded(buffer, ref searched) && buffer.Length < UpgradeRequest.MaxHeadBytes
                    && !result.IsCompleted && !result.IsCanceled)
                {
                    // Nothing consumed, everything examined: the next read waits for more bytes.
                    input.AdvanceTo(buffer.Start, buffer.End);
                    continue;
                }

                // Parsed once, when the head is complete (or clearly not an upgrade). Nothing consumed, nothing
                // examined: the next reader gets these same bytes at once.
                var parse = UpgradeRequest.Parse(Head(buffer, ref rented), _requestLine, out var request);
                input.AdvanceTo(buffer.Start, buffer.Start);
                return parse == UpgradeParse.Accepted ? request : null;
            }
        }
        catch (OperationCanceledException)
        {
            return null;
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    // Whether what arrived so far could still be the endpoint's request line.
    private bool StartsLikeUpgrade(ReadOnlySequence<byte> buffer)
    {
        Span<byte> start = stackalloc byte[_requestLine.Length];
        var length = (int)Math.Min(buffer.Length, start.Length);
        buffer.Slice(0, length).CopyTo(start);
        return start[..length].SequenceEqual(_requestLine.AsSpan(0, length));
    }

    // Whether the head's blank line has arrived. Only bytes not searched before are searched (and the three before
    // them, for a CRLFCRLF split across reads), so a head trickled in byte by byte costs linear time, not quadratic.
    private static bool HeadEnded(ReadOnlySequence<byte> buffer, ref long searched)
    {
        var reader = new SequenceReader<byte>(buffer.Slice(Math.Max(0, searched - 3)));
        searched = buffer.Length;
        return reader.TryReadTo(out ReadOnlySequence<byte> _, "\r\n\r\n"u8);
    }

    // The first MaxHeadBytes of what arrived, contiguous (they usually are already: one read, one segment).
    private static ReadOnlySpan<byte> Head(ReadOnlySequence<byte> buffer, ref byte[]? rented)
    {
        var length = (int)Math.Min(buffer.Length, UpgradeRequest.MaxHeadBytes);
        if (buffer.First.Length >= length)
        {
            return buffer.First.Span[..length];
        }

        rented ??= ArrayPool<byte>.Shared.Rent(UpgradeRequest.MaxHeadBytes);
        buffer.Slice(0, length).CopyTo(rented);
        return rented.AsSpan(0, length);
    }

    private bool IsAllowed(UpgradeRequest request) =>
        !FiltersHosts() &&
        (request.Origin is null || BrowserOrigins.IsAllowed(request.Origin, "http://" + request.Host, _options.CurrentValue.Browser.AllowedOrigins));

    // With AllowedHosts set, the HTTP pipeline's host filtering decides; it is not repeated here.
    private bool FiltersHosts() =>
        _hostFiltering?.CurrentValue.AllowedHosts is { Count: > 0 } hosts && !(hosts.Count == 1 && hosts[0] == "*");

    private async Task AcceptAsync(ConnectionContext context, UpgradeRequest request, IPAddress address, EdgeWebSocketOptions options)
    {
        using var activity = Diagnostics.EdgeBridgeActivities.StartDirectUpgrade(options.Path, address);
        var input = context.Transport.Input;
        var result = await input.ReadAsync(context.ConnectionClosed);
        input.AdvanceTo(result.Buffer.GetPosition(request.HeadLength));
        await context.Transport.Output.WriteAsync(Encoding.ASCII.GetBytes(
            "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n" +
            $"Sec-WebSocket-Accept: {UpgradeRequest.AcceptKey(request.Key)}\r\nSec-WebSocket-Protocol: {ServerFrames.Subprotocol}\r\n\r\n"), context.ConnectionClosed);
        activity?.Stop();

        Stream stream = new DuplexPipeStream(context.Transport);
        var batching = options.MaxWriteBatchBytes > 0 ? new CoalescingStream(stream, options.MaxWriteBatchBytes) : null;
        await using var _ = batching ?? stream;
        using var socket = WebSocket.CreateFromStream(batching ?? stream, new WebSocketCreationOptions
        {
            IsServer = true,
            SubProtocol = ServerFrames.Subprotocol,
            KeepAliveInterval = TimeSpan.Zero,
        });
        await WebSocketEndpoint.RunAsync(socket, services, options, address, batching, activity?.Context ?? default, context.ConnectionClosed);
    }

    /// <summary>The connection's pipes as the stream a <see cref="WebSocket"/> reads and writes.</summary>
    private sealed class DuplexPipeStream(IDuplexPipe pipe) : AsyncDuplexStream
    {
        private readonly Stream _input = pipe.Input.AsStream(leaveOpen: true);
        private readonly Stream _output = pipe.Output.AsStream(leaveOpen: true);

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => _input.ReadAsync(buffer, cancellationToken);

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => _input.ReadAsync(buffer, offset, count, cancellationToken);

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) => _output.WriteAsync(buffer, cancellationToken);

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => _output.WriteAsync(buffer, offset, count, cancellationToken);

        public override Task FlushAsync(CancellationToken cancellationToken) => _output.FlushAsync(cancellationToken);

        // The WebSocket disposes its stream when it closes or is aborted (a vanished client, a timeout): a read
        // waiting for bytes and a flush waiting for a client that does not read must end then, as they do when an
        // upgraded HTTP request's stream is disposed. The connection itself closes when the middleware returns.
        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                pipe.Input.CancelPendingRead();
                pipe.Output.CancelPendingFlush();
            }

            base.Dispose(disposing);
        }
    }
}
