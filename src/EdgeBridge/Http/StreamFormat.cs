using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using EdgeBridge.Contracts;
using Google.Rpc;

namespace EdgeBridge.Http;

/// <summary>
/// How an HTTP stream frames what the socket sends as frames: server-sent events (<c>event:</c>, <c>id:</c>,
/// <c>data:</c>) or NDJSON (one object per line). The JSON of each event is the WebSocket's frame without an id.
/// </summary>
internal abstract class StreamFormat
{
    public static readonly StreamFormat ServerSentEvents = new Sse();

    public static readonly StreamFormat Ndjson = new Lines();

    public abstract string ContentType { get; }

    /// <summary>One message, already proto3 JSON; <paramref name="position"/> is its cursor, when the contract has one.</summary>
    public abstract void Next(PipeWriter writer, ReadOnlySpan<byte> message, long dropped, string? position);

    public abstract void End(PipeWriter writer, Status status, ProtoJson json);

    public abstract void Heartbeat(PipeWriter writer);

    /// <summary>The <c>Accept</c> header's choice; null when it accepts neither form.</summary>
    public static StreamFormat? Negotiate(string? accept)
    {
        if (string.IsNullOrWhiteSpace(accept))
        {
            return ServerSentEvents;
        }

        var (sse, ndjson, any) = (false, false, false);
        foreach (var part in accept.Split(','))
        {
            var type = part.Split(';')[0].Trim();
            sse |= type.Equals("text/event-stream", StringComparison.OrdinalIgnoreCase);
            ndjson |= type.Equals("application/x-ndjson", StringComparison.OrdinalIgnoreCase) || type.Equals("application/jsonl", StringComparison.OrdinalIgnoreCase);
            any |= type is "*/*" or "text/*";
        }

        return sse || (any && !ndjson) ? ServerSentEvents : ndjson ? Ndjson : null;
    }

    private static void Write(PipeWriter writer, ReadOnlySpan<byte> bytes) => writer.Write(bytes);

    private static void Write(PipeWriter writer, ReadOnlySpan<char> text) => Encoding.UTF8.GetBytes(text, writer);

    // Straight into the writer: a message's extras cost no string.
    private static void Write(PipeWriter writer, long number)
    {
        var span = writer.GetSpan(20);
        System.Buffers.Text.Utf8Formatter.TryFormat(number, span, out var written);
        writer.Advance(written);
    }

    private static void WriteNextJson(PipeWriter writer, ReadOnlySpan<byte> message, long dropped)
    {
        Write(writer, "{\"type\":\"next\",\"message\":"u8);
        Write(writer, message);
        if (dropped > 0)
        {
            Write(writer, ",\"dropped\":"u8);
            Write(writer, dropped);
        }

        Write(writer, "}"u8);
    }

    private static byte[] EndJson(Status status, ProtoJson json) =>
        status.Code == 0 ? "{\"type\":\"complete\"}"u8.ToArray() : WebSockets.ServerFrames.Error(null, status, json);

    private sealed class Sse : StreamFormat
    {
        public override string ContentType => "text/event-stream; charset=utf-8";

        public override void Next(PipeWriter writer, ReadOnlySpan<byte> message, long dropped, string? position)
        {
            Write(writer, "event: next\n"u8);
            if (position is not null)
            {
                // An id is one line: a cursor never holds a line break (integers, or strings the backend chose).
                Write(writer, "id: "u8);
                Write(writer, position.AsSpan().ContainsAny('\n', '\r') ? position.Replace("\n", "", StringComparison.Ordinal).Replace("\r", "", StringComparison.Ordinal) : position);
                Write(writer, "\n"u8);
            }

            // proto3 JSON from Google.Protobuf's formatter is one line: no raw line breaks inside strings.
            Write(writer, "data: "u8);
            WriteNextJson(writer, message, dropped);
            Write(writer, "\n\n"u8);
        }

        public override void End(PipeWriter writer, Status status, ProtoJson json)
        {
            Write(writer, status.Code == 0 ? "event: complete\ndata: "u8 : "event: error\ndata: "u8);
            Write(writer, EndJson(status, json));
            Write(writer, "\n\n"u8);
        }

        // A comment line: EventSource ignores it, proxies see traffic.
        public override void Heartbeat(PipeWriter writer) => Write(writer, ": heartbeat\n\n"u8);
    }

    private sealed class Lines : StreamFormat
    {
        public override string ContentType => "application/x-ndjson; charset=utf-8";

        public override void Next(PipeWriter writer, ReadOnlySpan<byte> message, long dropped, string? position)
        {
            WriteNextJson(writer, message, dropped);
            Write(writer, "\n"u8);
        }

        public override void End(PipeWriter writer, Status status, ProtoJson json)
        {
            Write(writer, EndJson(status, json));
            Write(writer, "\n"u8);
        }

        public override void Heartbeat(PipeWriter writer) => Write(writer, "{\"type\":\"heartbeat\"}\n"u8);
    }
}
