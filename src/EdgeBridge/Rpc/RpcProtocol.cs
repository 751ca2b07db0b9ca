using System.Buffers.Binary;
using System.Globalization;
using Microsoft.AspNetCore.Http;

namespace EdgeBridge.Rpc;

/// <summary>The protocols a request to <c>/{package.Service}/{Method}</c> on a Browser listener may speak.</summary>
internal enum RpcWire
{
    /// <summary>Connect unary: the bare message as the body (<c>application/json</c>, <c>application/proto</c>), or a GET.</summary>
    Connect,

    /// <summary>Connect streaming: enveloped messages and an end-of-stream message (<c>application/connect+json|proto</c>).</summary>
    ConnectStream,

    /// <summary>gRPC-Web: gRPC's length-prefixed messages, trailers in the body (<c>application/grpc-web[+proto|+json]</c>).</summary>
    GrpcWeb,

    /// <summary>gRPC-Web's text form: the same bytes, base64 (<c>application/grpc-web-text[+proto]</c>).</summary>
    GrpcWebText,
}

/// <summary>A request's protocol and message codec, read from its content type (or, for Connect GET, its query).</summary>
internal readonly record struct RpcProtocol(RpcWire Wire, bool Json)
{
    /// <summary>The content type answers of this protocol carry.</summary>
    public string ContentType => Wire switch
    {
        RpcWire.Connect => Json ? "application/json" : "application/proto",
        RpcWire.ConnectStream => Json ? "application/connect+json" : "application/connect+proto",
        RpcWire.GrpcWeb => Json ? "application/grpc-web+json" : "application/grpc-web+proto",
        _ => "application/grpc-web-text+proto",
    };

    /// <summary>Whether errors travel as gRPC statuses (headers or a trailers frame) rather than Connect error JSON.</summary>
    public bool IsGrpcWeb => Wire is RpcWire.GrpcWeb or RpcWire.GrpcWebText;

    /// <summary>The protocol's name in metrics and traces.</summary>
    public string MetricName => IsGrpcWeb ? "grpc-web" : "connect";

    /// <summary>The protocol of <paramref name="request"/>; null when its content type is none of these protocols'.</summary>
    public static RpcProtocol? Of(HttpRequest request)
    {
        if (HttpMethods.IsGet(request.Method))
        {
            // Connect GET: the message and its codec are in the query.
            return request.Query["encoding"].ToString() switch
            {
                "json" => new RpcProtocol(RpcWire.Connect, Json: true),
                "proto" => new RpcProtocol(RpcWire.Connect, Json: false),
                _ => null,
            };
        }

        var type = request.ContentType;
        if (string.IsNullOrEmpty(type))
        {
            return null;
        }

        var semicolon = type.IndexOf(';', StringComparison.Ordinal);
        var media = (semicolon < 0 ? type : type[..semicolon]).Trim().ToLowerInvariant();
        return media switch
        {
            "application/json" => new RpcProtocol(RpcWire.Connect, Json: true),
            "application/proto" => new RpcProtocol(RpcWire.Connect, Json: false),
            "application/connect+json" => new RpcProtocol(RpcWire.ConnectStream, Json: true),
            "application/connect+proto" => new RpcProtocol(RpcWire.ConnectStream, Json: false),
            "application/grpc-web" or "application/grpc-web+proto" => new RpcProtocol(RpcWire.GrpcWeb, Json: false),
            "application/grpc-web+json" => new RpcProtocol(RpcWire.GrpcWeb, Json: true),
            "application/grpc-web-text" or "application/grpc-web-text+proto" => new RpcProtocol(RpcWire.GrpcWebText, Json: false),
            _ => null,
        };
    }

    /// <summary>
    /// The deadline the client asks for: <c>Connect-Timeout-Ms</c> (1–10 digits) or gRPC's <c>grpc-timeout</c>
    /// (1–8 digits and a unit). Null when it sets none; false when the header is malformed.
    /// </summary>
    public bool TryReadTimeout(HttpRequest request, out TimeSpan? timeout)
    {
        timeout = null;
        if (!IsGrpcWeb)
        {
            var value = request.Headers["Connect-Timeout-Ms"].ToString();
            if (value.Length == 0)
            {
                return true;
            }

            if (value.Length > 10 || !value.All(char.IsAsciiDigit) || !long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var ms))
            {
                return false;
            }

            timeout = TimeSpan.FromMilliseconds(ms);
            return true;
        }

        var grpc = request.Headers["grpc-timeout"].ToString();
        if (grpc.Length == 0)
        {
            return true;
        }

        var digits = grpc.AsSpan(0, grpc.Length - 1);
        if (digits.Length is 0 or > 8 || !long.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out var amount))
        {
            return false;
        }

        timeout = grpc[^1] switch
        {
            'H' => TimeSpan.FromHours(amount),
            'M' => TimeSpan.FromMinutes(amount),
            'S' => TimeSpan.FromSeconds(amount),
            'm' => TimeSpan.FromMilliseconds(amount),
            'u' => TimeSpan.FromMicroseconds(amount),
            'n' => TimeSpan.FromTicks(amount / 100),
            _ => null,
        };
        return timeout is not null;
    }
}

/// <summary>
/// The envelope both streaming protocols share with gRPC: a flags byte, a big-endian 32-bit length, the bytes.
/// Connect marks its end-of-stream message with flag 0x02, gRPC-Web its trailers with 0x80.
/// </summary>
internal static class Envelope
{
    public const int HeaderLength = 5;

    public const byte Compressed = 0x01;

    public const byte ConnectEndStream = 0x02;

    public const byte GrpcWebTrailers = 0x80;

    /// <summary>The one message of a request body; a problem, in words, when the body is not exactly one uncompressed envelope.</summary>
    public static bool TryReadSingle(ReadOnlyMemory<byte> body, out ReadOnlyMemory<byte> message, out string? problem)
    {
        message = default;
        var span = body.Span;
        if (span.Length < HeaderLength)
        {
            problem = $"the body holds {span.Length} bytes, not an enveloped message (a flags byte and a 4-byte length first)";
            return false;
        }

        var flags = span[0];
        var length = BinaryPrimitives.ReadUInt32BigEndian(span[1..]);
        if ((flags & Compressed) != 0)
        {
            problem = "compressed messages are not accepted; send them uncompressed (identity)";
            return false;
        }

        if (flags != 0)
        {
            problem = $"the envelope's flags are 0x{flags:x2}; a request message has 0x00";
            return false;
        }

        if (length != (uint)(span.Length - HeaderLength))
        {
            problem = $"the envelope says {length} bytes but {span.Length - HeaderLength} follow; the request takes exactly one message";
            return false;
        }

        message = body[HeaderLength..];
        problem = null;
        return true;
    }

    /// <summary>Writes the five-byte header of an envelope of <paramref name="length"/> bytes.</summary>
    public static void WriteHeader(Span<byte> destination, byte flags, int length)
    {
        destination[0] = flags;
        BinaryPrimitives.WriteUInt32BigEndian(destination[1..], (uint)length);
    }
}
