using System.Buffers;
using System.Text.Json;
using EdgeBridge.Contracts;
using Google.Protobuf;
using Grpc.Core;

namespace EdgeBridge.WebSockets;

/// <summary>Builds the server → client frames of <c>edgebridge.v1</c> as UTF-8 JSON bytes.</summary>
internal static class ServerFrames
{
    public const string Subprotocol = "edgebridge.v1";

    public static readonly byte[] Pong = """{"type":"pong"}"""u8.ToArray();
    public static readonly byte[] Ping = """{"type":"ping"}"""u8.ToArray();
    private static readonly byte[] s_dropped = ""","dropped":"""u8.ToArray();
    private static readonly byte[] s_message = ""","message":"""u8.ToArray();

    /// <summary><c>{"type":"next","id":"…"</c>: the per-subscription start of every <c>next</c> frame.</summary>
    public static byte[] NextPrefix(string id) => Build(writer =>
    {
        writer.WriteStartObject();
        writer.WriteString("type", "next");
        writer.WriteString("id", id);
        writer.Flush();
    }, closeObject: false);

    /// <summary>Writes one <c>next</c> frame: the subscription's prefix, the drop count, and the shared message bytes.</summary>
    public static int WriteNext(IBufferWriter<byte> output, byte[] prefix, long dropped, ReadOnlySpan<byte> message)
    {
        var length = NextLength(prefix, dropped, message.Length);
        WriteNext(output.GetSpan(length), prefix, dropped, message);
        output.Advance(length);
        return length;
    }

    /// <summary>The size in bytes of the <c>next</c> frame <see cref="WriteNext(Span{byte}, byte[], long, ReadOnlySpan{byte})"/> writes.</summary>
    public static int NextLength(byte[] prefix, long dropped, int messageLength) =>
        prefix.Length + (dropped > 0 ? s_dropped.Length + CountDigits(dropped) : 0) + s_message.Length + messageLength + 1;

    /// <summary>Writes one <c>next</c> frame into exactly <see cref="NextLength"/> bytes of <paramref name="destination"/>.</summary>
    public static void WriteNext(Span<byte> destination, byte[] prefix, long dropped, ReadOnlySpan<byte> message)
    {
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

    private static int CountDigits(long value)
    {
        var digits = 1;
        while ((value /= 10) > 0)
        {
            digits++;
        }

        return digits;
    }

    public static byte[] Ack(string connectionId, WebSocketOptions limits) => Build(writer =>
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

    /// <summary>The google.rpc.Status of a failed upstream call, with the backend's details when it sent any.</summary>
    public static Google.Rpc.Status StatusOf(RpcException exception)
    {
        var bytes = exception.Trailers.GetValueBytes("grpc-status-details-bin");
        if (bytes is not null)
        {
            try
            {
                var status = Google.Rpc.Status.Parser.ParseFrom(bytes);
                status.Code = (int)exception.StatusCode;
                return status;
            }
            catch (InvalidProtocolBufferException)
            {
                // Fall through to the plain status: a garbled trailer must not hide the error itself.
            }
        }

        return new Google.Rpc.Status { Code = (int)exception.StatusCode, Message = exception.Status.Detail };
    }

    private static string FormatDetail(Google.Protobuf.WellKnownTypes.Any detail, ProtoJson? json)
    {
        if (json is not null)
        {
            try
            {
                return json.Formatter.Format(detail);
            }
            catch (InvalidOperationException)
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
