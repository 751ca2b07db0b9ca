using System.Buffers.Binary;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace EdgeBridge.Proxy;

/// <summary>
/// The gRPC listener's message limit (<see cref="GrpcOptions.MaxMessageBytes"/>): the edge forwards gRPC bodies as
/// bytes, so it reads the length prefix of every message a client sends as it passes and stops the call at the
/// first one that is too large, before its bytes reach the backend. The total body is not limited: a client stream
/// may run for hours. Which calls are limited follows the route (<see cref="RouteConventions"/> marks the routes
/// that only the gRPC listener serves), not the request's content type.
/// </summary>
internal static class GrpcMessageLimits
{
    /// <summary>Marks a route whose request bodies are gRPC messages.</summary>
    public static readonly object Metadata = new GrpcRoute();

    public static Task InvokeAsync(HttpContext context, RequestDelegate next)
    {
        if (context.GetEndpoint()?.Metadata.GetMetadata<GrpcRoute>() is not null)
        {
            var limit = context.RequestServices.GetRequiredService<IOptionsMonitor<EdgeBridgeOptions>>().CurrentValue.Grpc.MaxMessageBytes;
            context.Request.Body = new LimitedGrpcStream(context.Request.Body, limit);
        }

        return next(context);
    }

    private sealed class GrpcRoute;
}

/// <summary>A gRPC message larger than the edge accepts; the call ends with RESOURCE_EXHAUSTED.</summary>
internal sealed class GrpcMessageTooLargeException(long length, int limit)
    : IOException($"Received a gRPC message of {length} bytes; the edge accepts at most {limit}.")
{
    public long Length { get; } = length;

    public int Limit { get; } = limit;
}

/// <summary>
/// Passes a gRPC request body through unchanged while following its framing: each message is a 5-byte prefix
/// (compressed flag, big-endian length) and its bytes. A prefix announcing more than the limit fails the read.
/// </summary>
internal sealed class LimitedGrpcStream(Stream inner, int limit) : Stream
{
    private readonly byte[] _prefix = new byte[5];
    private int _prefixRead;
    private long _messageLeft;

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override int Read(byte[] buffer, int offset, int count)
    {
        var read = inner.Read(buffer, offset, count);
        Follow(buffer.AsSpan(offset, read));
        return read;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var read = await inner.ReadAsync(buffer, cancellationToken);
        Follow(buffer.Span[..read]);
        return read;
    }

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    private void Follow(ReadOnlySpan<byte> bytes)
    {
        while (!bytes.IsEmpty)
        {
            if (_messageLeft > 0)
            {
                var skipped = (int)Math.Min(_messageLeft, bytes.Length);
                _messageLeft -= skipped;
                bytes = bytes[skipped..];
                continue;
            }

            var take = Math.Min(_prefix.Length - _prefixRead, bytes.Length);
            bytes[..take].CopyTo(_prefix.AsSpan(_prefixRead));
            _prefixRead += take;
            bytes = bytes[take..];
            if (_prefixRead == _prefix.Length)
            {
                _prefixRead = 0;
                _messageLeft = BinaryPrimitives.ReadUInt32BigEndian(_prefix.AsSpan(1));
                if (_messageLeft > limit)
                {
                    throw new GrpcMessageTooLargeException(_messageLeft, limit);
                }
            }
        }
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            inner.Dispose();
        }

        base.Dispose(disposing);
    }
}
