using System.Buffers;
using System.Text.Json;
using EdgeBridge.Contracts;
using EdgeBridge.Streams;
using Google.Protobuf;
using Grpc.Core;

namespace EdgeBridge.WebSockets;

/// <summary>
/// Builds the server → client frames of <c>edgebridge.v1</c>: UTF-8 JSON, and the binary form of <c>next</c> for
/// subscriptions made with <c>"encoding":"proto"</c> (<c>edgebridge.v1.NextFrame</c>).
/// </summary>
internal static class ServerFrames
{
    public const string Subprotocol = "edgebridge.v1";

    public static readonly byte[] Pong = """{"type":"pong"}"""u8.ToArray();
    public static readonly byte[] Ping = """{"type":"ping"}"""u8.ToArray();
    private static readonly byte[] s_dropped = ""","dropped":"""u8.ToArray();
    private static readonly byte[] s_message = ""","message":"""u8.ToArray();

    /// <summary>The per-subscription start of every <c>next</c> frame of a subscription in <paramref name="encoding"/>.</summary>
    public static byte[] NextPrefix(string id, MessageEncoding encoding = MessageEncoding.Json) => encoding == MessageEncoding.Proto
        ? ProtoNextPrefix(id)
        : Build(writer =>
        {
            // {"type":"next","id":"…"
            writer.WriteStartObject();
            writer.WriteString("type", "next");
            writer.WriteString("id", id);
            writer.Flush();
        }, closeObject: false);

    /// <summary>Writes one <c>next</c> frame: the subscription's prefix, the drop count, and the shared message bytes.</summary>
    public static int WriteNext(IBufferWriter<byte> output, byte[] prefix, long dropped, ReadOnlySpan<byte> message, MessageEncoding encoding = MessageEncoding.Json)
    {
        var length = NextLength(prefix, dropped, message.Length, encoding);
        WriteNext(output.GetSpan(length), prefix, dropped, message, encoding);
        output.Advance(length);
        return length;
    }

    /// <summary>The size in bytes of the <c>next</c> frame <see cref="WriteNext(Span{byte}, byte[], long, ReadOnlySpan{byte}, MessageEncoding)"/> writes.</summary>
    public static int NextLength(byte[] prefix, long dropped, int messageLength, MessageEncoding encoding = MessageEncoding.Json) => encoding == MessageEncoding.Proto
        ? prefix.Length + (dropped > 0 ? 1 + VarintLength((ulong)dropped) : 0) + 1 + VarintLength((uint)messageLength) + messageLength
        : prefix.Length + (dropped > 0 ? s_dropped.Length + CountDigits(dropped) : 0) + s_message.Length + messageLength + 1;

    /// <summary>Writes one <c>next</c> frame into exactly <see cref="NextLength"/> bytes of <paramref name="destination"/>.</summary>
    public static void WriteNext(Span<byte> destination, byte[] prefix, long dropped, ReadOnlySpan<byte> message, MessageEncoding encoding = MessageEncoding.Json)
    {
        if (encoding == MessageEncoding.Proto)
        {
            WriteProtoNext(destination, prefix, dropped, message);
            return;
        }

        prefix.CopyTo(destination);
        var at = prefix.Length;
        if (dropped > 0)
        {
            s_dropped.CopyTo(destination[at..]);
            at += s_dropped.Length;
            dropped.TryFormat(destination[at..], out var written, provider: System.Globalization.CultureInfo.InvariantCulture);
            at += written;
        }

        s_message.CopyTo(destination[at..]);
        at += s_message.Length;
        message.CopyTo(destination[at..]);
        destination[at + message.Length] = (byte)'}';
    }

    // edgebridge.v1.NextFrame, written by hand so that the shared message bytes are copied once, straight into the
    // socket's batch: field 1 (id) is the prefix, then field 2 (dropped) when non-zero, then field 3 (message).
    private const byte IdTag = (1 << 3) | 2;
    private const byte DroppedTag = 2 << 3;
    private const byte MessageTag = (3 << 3) | 2;

    private static byte[] ProtoNextPrefix(string id)
    {
        var length = System.Text.Encoding.UTF8.GetByteCount(id);
        var prefix = new byte[1 + VarintLength((uint)length) + length];
        prefix[0] = IdTag;
        var at = 1 + WriteVarint(prefix.AsSpan(1), (uint)length);
        System.Text.Encoding.UTF8.GetBytes(id, prefix.AsSpan(at));
        return prefix;
    }

    private static void WriteProtoNext(Span<byte> destination, byte[] prefix, long dropped, ReadOnlySpan<byte> message)
    {
        prefix.CopyTo(destination);
        var at = prefix.Length;
        if (dropped > 0)
        {
            destination[at++] = DroppedTag;
            at += WriteVarint(destination[at..], (ulong)dropped);
        }

        destination[at++] = MessageTag;
        at += WriteVarint(destination[at..], (uint)message.Length);
        message.CopyTo(destination[at..]);
    }

    private static int VarintLength(ulong value) => value == 0 ? 1 : (70 - System.Numerics.BitOperations.LeadingZeroCount(value)) / 7;

    private static int WriteVarint(Span<byte> destination, ulong value)
    {
        var at = 0;
        while (value >= 0x80)
        {
            destination[at++] = (byte)(value | 0x80);
            value >>= 7;
        }

        destination[at++] = (byte)value;
        return at;
    }

    private static int CountDigits(long value)
    {
        var digits = 1;
        while ((value /= 10) > 0)
        {
            digits++;
        }

        return digits;
    }

    public static byte[] Ack(string connectionId, EdgeWebSocketOptions limits) => Build(writer =>
    {
        writer.WriteStartObject();
        writer.WriteString("type", "ack");
        writer.WriteString("connectionId", connectionId);
        writer.WriteStartObject("limits");
        writer.WriteNumber("maxFrameBytes", limits.MaxFrameBytes);
        writer.WriteNumber("maxSubscriptions", limits.MaxSubscriptionsPerConnection);
        writer.WriteNumber("maxInboundFramesPerSecond", limits.MaxInboundFramesPerSecond);
        writer.WriteNumber("inboundFrameBurst", limits.InboundFrameBurst);
        writer.WriteNumber("keepAliveIntervalMs", (long)limits.KeepAliveInterval.TotalMilliseconds);
        writer.WriteEndObject();
        writer.WriteEndObject();
    });

    /// <summary>
    /// <c>goaway</c>: the edge is draining; the client should reconnect (the balancer sends it to another edge) at a
    /// moment of its choosing within <paramref name="within"/>, after which the socket is closed with 1001.
    /// </summary>
    public static byte[] GoAway(TimeSpan within) => Build(writer =>
    {
        writer.WriteStartObject();
        writer.WriteString("type", "goaway");
        writer.WriteNumber("reconnectWithinMs", (long)within.TotalMilliseconds);
        writer.WriteString("reason", "This edge is draining; reconnect to be served by another edge.");
        writer.WriteEndObject();
    });

    /// <summary><c>result</c>: the answer of a <c>call</c>, its message as proto3 JSON.</summary>
    public static byte[] Result(string id, string message) => Build(writer =>
    {
        writer.WriteStartObject();
        writer.WriteString("type", "result");
        writer.WriteString("id", id);
        writer.WritePropertyName("message");
        writer.WriteRawValue(message, skipInputValidation: true);
        writer.WriteEndObject();
    });

    public static byte[] Complete(string id) => Build(writer =>
    {
        writer.WriteStartObject();
        writer.WriteString("type", "complete");
        writer.WriteString("id", id);
        writer.WriteEndObject();
    });

    /// <summary>An <c>error</c> frame; without <paramref name="id"/> it reports a rejected frame.</summary>
    public static byte[] Error(string? id, StatusCode code, string message) =>
        Error(id, new Google.Rpc.Status { Code = (int)code, Message = message }, json: null);

    /// <summary>An <c>error</c> frame carrying a full google.rpc.Status, details included.</summary>
    public static byte[] Error(string? id, Google.Rpc.Status status, ProtoJson? json) => Build(writer =>
    {
        writer.WriteStartObject();
        writer.WriteString("type", "error");
        if (id is not null)
        {
            writer.WriteString("id", id);
        }

        writer.WritePropertyName("status");
        writer.WriteStartObject();
        writer.WriteNumber("code", status.Code);
        writer.WriteString("message", status.Message);
        writer.WriteStartArray("details");
        foreach (var detail in status.Details)
        {
            writer.WriteRawValue(FormatDetail(detail, json), skipInputValidation: true);
        }

        writer.WriteEndArray();
        writer.WriteEndObject();
        writer.WriteEndObject();
    });

    private static string FormatDetail(Google.Protobuf.WellKnownTypes.Any detail, ProtoJson? json)
    {
        if (json is not null)
        {
            try
            {
                // Through the descriptor codec: a detail of a contract loaded at run time has no generated class to format it.
                return System.Text.Encoding.UTF8.GetString(json.Codec.BinaryToJson(Google.Protobuf.WellKnownTypes.Any.Descriptor, Google.Protobuf.MessageExtensions.ToByteArray(detail)));
            }
            catch (FormatException)
            {
                // A detail type the edge does not know: keep its bytes rather than lose it.
            }
        }

        return JsonSerializer.Serialize(new Dictionary<string, string>
        {
            ["@type"] = detail.TypeUrl,
            ["value"] = Convert.ToBase64String(detail.Value.Span),
        });
    }

    private static byte[] Build(Action<Utf8JsonWriter> write, bool closeObject = true)
    {
        var buffer = new ArrayBufferWriter<byte>(128);
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { SkipValidation = !closeObject }))
        {
            write(writer);
            writer.Flush();
        }

        return buffer.WrittenSpan.ToArray();
    }
}
