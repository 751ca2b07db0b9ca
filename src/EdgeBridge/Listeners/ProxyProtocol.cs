using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using System.Net;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;

namespace EdgeBridge.Listeners;

/// <summary>
/// The PROXY protocol, version 2 (HAProxy's <c>send-proxy-v2</c>), on a listener only the load balancer reaches: each
/// connection starts with a binary header naming the client's address, and that address replaces the balancer's as
/// the connection's remote end point — so that every per-address limit, the login throttle and the logs see clients,
/// not the balancer. A connection without a valid header is closed before anything else reads from it; a LOCAL
/// header (the balancer's own health checks) keeps the balancer's address.
/// </summary>
/// <remarks>
/// Version 2 only: it is binary, fixed-layout and self-delimiting, so there is nothing to parse but lengths. The
/// header is never trusted on a listener where it is not configured; on one where it is, only from the peers listed
/// in <c>TrustedProxies</c>: a client that reaches the listener directly is closed before its header is read, so it
/// cannot name itself any address.
/// </remarks>
internal sealed partial class ProxyProtocol(ConnectionDelegate next, TimeSpan headerTimeout, TimeProvider time, ILogger logger, TrustedPeers trusted)
{
    // \r\n\r\n\0\r\nQUIT\n, then version and command, family and protocol, and the length of what follows.
    private static ReadOnlySpan<byte> Signature => [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A];

    private const int FixedLength = 16;

    /// <summary>Longest address block accepted: the addresses plus TLVs a balancer adds (HAProxy's are far shorter).</summary>
    public const int MaxAddressBlock = 512;

    public async Task OnConnectionAsync(ConnectionContext context)
    {
        if (!trusted.Contains((context.RemoteEndPoint as IPEndPoint)?.Address))
        {
            Log.Untrusted(logger, context.ConnectionId, context.RemoteEndPoint?.ToString() ?? "?");
            context.Abort(new ConnectionAbortedException("The peer is not a trusted proxy of this listener."));
            return;
        }

        var parse = await ReadHeaderAsync(context, context.Transport.Input);

        if (parse.Problem is { } problem)
        {
            Log.Refused(logger, context.ConnectionId, context.RemoteEndPoint?.ToString() ?? "?", problem);
            context.Abort(new ConnectionAbortedException("PROXY protocol header missing or invalid: " + problem));
            return;
        }

        if (parse.Client is { } client)
        {
            context.RemoteEndPoint = client;
            context.LocalEndPoint = parse.Destination ?? context.LocalEndPoint;
        }

        await next(context);
    }

    private async Task<HeaderParse> ReadHeaderAsync(ConnectionContext context, PipeReader input)
    {
        // The timeout covers the header only: once it is read, the connection's reads belong to what comes next.
        using var timeout = new CancellationTokenSource(headerTimeout, time);
        using var cancel = timeout.Token.Register(static state => ((PipeReader)state!).CancelPendingRead(), input);
        try
        {
            return await ReadHeaderCoreAsync(context, input);
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or ConnectionResetException)
        {
            return HeaderParse.Invalid("the connection ended or timed out before the header");
        }
    }

    private static async Task<HeaderParse> ReadHeaderCoreAsync(ConnectionContext context, PipeReader input)
    {
        while (true)
        {
            var result = await input.ReadAsync(context.ConnectionClosed);
            if (result.IsCanceled)
            {
                return HeaderParse.Invalid("no header within the headers timeout");
            }

            var buffer = result.Buffer;
            var parse = TryParse(buffer, out var consumed);
            if (parse is not null)
            {
                input.AdvanceTo(buffer.GetPosition(consumed));
                return parse.Value;
            }

            if (result.IsCompleted)
            {
                input.AdvanceTo(buffer.Start, buffer.End);
                return HeaderParse.Invalid("the connection ended inside the header");
            }

            // Not complete yet: wait for more bytes, consuming none.
            input.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    /// <summary>Parses a header from <paramref name="buffer"/>; null while more bytes are needed.</summary>
    internal static HeaderParse? TryParse(ReadOnlySequence<byte> buffer, out long consumed)
    {
        consumed = 0;
        Span<byte> fixedPart = stackalloc byte[FixedLength];
        var available = (int)Math.Min(buffer.Length, FixedLength);
        buffer.Slice(0, available).CopyTo(fixedPart);
        if (!fixedPart[..Math.Min(available, Signature.Length)].SequenceEqual(Signature[..Math.Min(available, Signature.Length)]))
        {
            return HeaderParse.Invalid("the connection does not start with a PROXY protocol v2 signature");
        }

        if (available < FixedLength)
        {
            return null;
        }

        var versionCommand = fixedPart[12];
        if (versionCommand >> 4 != 2)
        {
            return HeaderParse.Invalid($"version {versionCommand >> 4} (only 2 is accepted)");
        }

        var length = BinaryPrimitives.ReadUInt16BigEndian(fixedPart[14..]);
        if (length > MaxAddressBlock)
        {
            return HeaderParse.Invalid($"an address block of {length} bytes (at most {MaxAddressBlock})");
        }

        if (buffer.Length < FixedLength + length)
        {
            return null;
        }

        consumed = FixedLength + length;
        var command = versionCommand & 0x0F;
        if (command == 0)
        {
            // LOCAL: the balancer speaking for itself (health checks); the connection's own addresses stand.
            return HeaderParse.Unproxied;
        }

        if (command != 1)
        {
            return HeaderParse.Invalid($"command {command}");
        }

        Span<byte> block = stackalloc byte[MaxAddressBlock];
        block = block[..length];
        buffer.Slice(FixedLength, length).CopyTo(block);
        return fixedPart[13] switch
        {
            // TCP over IPv4: source, destination, source port, destination port.
            0x11 when length >= 12 => HeaderParse.Proxied(
                new IPEndPoint(new IPAddress(block[..4]), BinaryPrimitives.ReadUInt16BigEndian(block[8..])),
                new IPEndPoint(new IPAddress(block[4..8]), BinaryPrimitives.ReadUInt16BigEndian(block[10..]))),
            // TCP over IPv6.
            0x21 when length >= 36 => HeaderParse.Proxied(
                new IPEndPoint(new IPAddress(block[..16]), BinaryPrimitives.ReadUInt16BigEndian(block[32..])),
                new IPEndPoint(new IPAddress(block[16..32]), BinaryPrimitives.ReadUInt16BigEndian(block[34..]))),
            // UNSPEC: the balancer does not know; keep the connection's own address.
            0x00 => HeaderParse.Unproxied,
            var family => HeaderParse.Invalid($"address family and protocol 0x{family:x2} with {length} address bytes"),
        };
    }

    internal readonly record struct HeaderParse(IPEndPoint? Client, IPEndPoint? Destination, string? Problem)
    {
        public static HeaderParse Unproxied => default;

        public static HeaderParse Proxied(IPEndPoint client, IPEndPoint local) => new(client, local, null);

        public static HeaderParse Invalid(string problem) => new(null, null, problem);
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1, EventName = "ProxyHeaderRefused", Level = LogLevel.Warning,
            Message = "Connection {ConnectionId} from {Peer} closed: PROXY protocol header missing or invalid ({Problem}).")]
        public static partial void Refused(ILogger logger, string connectionId, string peer, string problem);

        [LoggerMessage(EventId = 2, EventName = "ProxyPeerUntrusted", Level = LogLevel.Warning,
            Message = "Connection {ConnectionId} from {Peer} closed: not one of the listener's TrustedProxies.")]
        public static partial void Untrusted(ILogger logger, string connectionId, string peer);
    }
}
