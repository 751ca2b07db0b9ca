using System.Buffers;
using System.Buffers.Text;
using System.IO.Pipelines;
using EdgeBridge.Contracts;
using EdgeBridge.Http;
using Google.Rpc;

namespace EdgeBridge.Rpc;

/// <summary>
/// Server streams in Connect's and gRPC-Web's framing: each message enveloped, then Connect's end-of-stream message
/// or gRPC-Web's trailers frame. Neither protocol has a frame that carries nothing, so an idle stream sends no
/// heartbeats; nor a place for the count of messages the drop-oldest policy discarded.
/// </summary>
internal abstract class RpcStreamFormat(RpcProtocol protocol) : StreamFormat
{
    public static StreamFormat For(RpcProtocol protocol) => protocol.Wire switch
    {
        RpcWire.ConnectStream => new Connect(protocol),
        RpcWire.GrpcWebText => new GrpcWebText(protocol),
        _ => new GrpcWeb(protocol),
    };

    public override string ContentType => protocol.ContentType;

    public override void Next(PipeWriter writer, ReadOnlySpan<byte> message, long dropped, string? position) => WriteEnvelope(writer, 0, message);

    public override void Heartbeat(PipeWriter writer)
    {
    }

    protected virtual void WriteEnvelope(PipeWriter writer, byte flags, ReadOnlySpan<byte> payload)
    {
        var span = writer.GetSpan(Envelope.HeaderLength + payload.Length);
        Envelope.WriteHeader(span, flags, payload.Length);
        payload.CopyTo(span[Envelope.HeaderLength..]);
        writer.Advance(Envelope.HeaderLength + payload.Length);
    }

    private sealed class Connect(RpcProtocol protocol) : RpcStreamFormat(protocol)
    {
        public override void End(PipeWriter writer, Status status, ProtoJson json) => WriteEnvelope(writer, Envelope.ConnectEndStream, RpcErrors.ConnectEndOfStream(status));
    }

    private class GrpcWeb(RpcProtocol protocol) : RpcStreamFormat(protocol)
    {
        public override void End(PipeWriter writer, Status status, ProtoJson json) => WriteEnvelope(writer, Envelope.GrpcWebTrailers, RpcErrors.GrpcWebTrailers(status));
    }

    /// <summary>Each envelope base64 on its own, padded: a reader decodes the stream four characters at a time.</summary>
    private sealed class GrpcWebText(RpcProtocol protocol) : GrpcWeb(protocol)
    {
        protected override void WriteEnvelope(PipeWriter writer, byte flags, ReadOnlySpan<byte> payload)
        {
            var length = Envelope.HeaderLength + payload.Length;
            var frame = ArrayPool<byte>.Shared.Rent(length);
            try
            {
                Envelope.WriteHeader(frame, flags, payload.Length);
                payload.CopyTo(frame.AsSpan(Envelope.HeaderLength));
                var span = writer.GetSpan(Base64.GetMaxEncodedToUtf8Length(length));
                Base64.EncodeToUtf8(frame.AsSpan(0, length), span, out _, out var written);
                writer.Advance(written);
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(frame);
            }
        }
    }
}
