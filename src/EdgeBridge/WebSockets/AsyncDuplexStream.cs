namespace EdgeBridge.WebSockets;

/// <summary>
/// A readable, writable, non-seekable stream that works only asynchronously: the shape of every stream under a
/// WebSocket here. The synchronous members throw, so a blocking call on a socket's thread fails loudly.
/// </summary>
internal abstract class AsyncDuplexStream : Stream
{
    public sealed override bool CanRead => true;

    public sealed override bool CanSeek => false;

    public sealed override bool CanWrite => true;

    public sealed override long Length => throw new NotSupportedException();

    public sealed override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public sealed override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException("Reads are asynchronous.");

    public sealed override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException("Writes are asynchronous.");

    public sealed override void Flush() => throw new NotSupportedException("Flushes are asynchronous.");

    public sealed override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public sealed override void SetLength(long value) => throw new NotSupportedException();
}
