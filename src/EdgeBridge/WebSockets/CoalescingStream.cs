using System.Buffers;
using Microsoft.AspNetCore.Http.Features;

namespace EdgeBridge.WebSockets;

/// <summary>
/// The upgraded connection's stream, able to gather the frames a writer turn produces into one write: a socket
/// with several messages queued gets one syscall (and one TLS record) instead of one per frame. Outside a batch,
/// writes pass straight through, so pongs and close frames written by the WebSocket itself are not delayed.
/// </summary>
internal sealed class CoalescingStream(Stream inner, int maxBatchBytes) : AsyncDuplexStream
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private byte[]? _buffer;
    private int _length;
    private bool _batching;

    /// <summary>Starts gathering writes; called by the connection's single writer.</summary>
    public void BeginBatch() => _batching = true;

    /// <summary>Writes what was gathered, in one write, and stops gathering.</summary>
    public async ValueTask EndBatchAsync()
    {
        await _gate.WaitAsync();
        try
        {
            _batching = false;
            await WriteBufferedAsync();
            await inner.FlushAsync();
        }
        finally
        {
            _gate.Release();
        }
    }

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            if (!_batching)
            {
                await WriteBufferedAsync();
                await inner.WriteAsync(buffer, cancellationToken);
                return;
            }

            if (_length + buffer.Length > maxBatchBytes)
            {
                await WriteBufferedAsync();
                if (buffer.Length >= maxBatchBytes)
                {
                    await inner.WriteAsync(buffer, cancellationToken);
                    return;
                }
            }

            _buffer ??= ArrayPool<byte>.Shared.Rent(maxBatchBytes);
            buffer.Span.CopyTo(_buffer.AsSpan(_length));
            _length += buffer.Length;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Writes one unmasked, final text frame holding <paramref name="payload"/> (see the generic overload).</summary>
    public ValueTask WriteTextFrameAsync(ReadOnlyMemory<byte> payload) =>
        WriteFrameAsync(binary: false, payload.Length, payload, static (destination, payload) => payload.Span.CopyTo(destination));

    /// <summary>
    /// Writes one unmasked, final text or binary frame whose <paramref name="payloadLength"/> bytes <paramref name="write"/>
    /// produces straight into the batch: the hot path for <c>next</c> frames, assembled where they are sent instead
    /// of in a buffer of their own and then again in the WebSocket's. Frames stay whole, so they interleave safely
    /// with the control frames the WebSocket writes itself.
    /// </summary>
    public async ValueTask WriteFrameAsync<TState>(bool binary, int payloadLength, TState state, PayloadWriter<TState> write)
    {
        var opcode = binary ? BinaryOpcode : TextOpcode;
        var header = payloadLength < 126 ? 2 : payloadLength <= ushort.MaxValue ? 4 : 10;
        var total = header + payloadLength;
        await _gate.WaitAsync();
        try
        {
            if (total > maxBatchBytes)
            {
                await WriteBufferedAsync();
                var frame = ArrayPool<byte>.Shared.Rent(total);
                try
                {
                    WriteFrame(frame, opcode, header, payloadLength, state, write);
                    await inner.WriteAsync(frame.AsMemory(0, total));
                }
                finally
                {
                    ArrayPool<byte>.Shared.Return(frame);
                }

                return;
            }

            if (_length + total > maxBatchBytes)
            {
                await WriteBufferedAsync();
            }

            _buffer ??= ArrayPool<byte>.Shared.Rent(maxBatchBytes);
            WriteFrame(_buffer.AsSpan(_length), opcode, header, payloadLength, state, write);
            _length += total;
            if (!_batching)
            {
                await WriteBufferedAsync();
                await inner.FlushAsync();
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    private const byte TextOpcode = 0x1;
    private const byte BinaryOpcode = 0x2;

    private static void WriteFrame<TState>(Span<byte> destination, byte opcode, int header, int payloadLength, TState state, PayloadWriter<TState> write)
    {
        destination[0] = (byte)(0x80 | opcode); // FIN
        switch (header)
        {
            case 2:
                destination[1] = (byte)payloadLength;
                break;
            case 4:
                destination[1] = 126;
                System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(destination[2..], (ushort)payloadLength);
                break;
            default:
                destination[1] = 127;
                System.Buffers.Binary.BinaryPrimitives.WriteUInt64BigEndian(destination[2..], (ulong)payloadLength);
                break;
        }

        write(destination.Slice(header, payloadLength), state);
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override async Task FlushAsync(CancellationToken cancellationToken)
    {
        // Inside a batch the flush happens when the batch ends.
        if (_batching)
        {
            return;
        }

        await _gate.WaitAsync(cancellationToken);
        try
        {
            await WriteBufferedAsync();
            await inner.FlushAsync(cancellationToken);
        }
        finally
        {
            _gate.Release();
        }
    }

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => inner.ReadAsync(buffer, cancellationToken);

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => inner.ReadAsync(buffer, offset, count, cancellationToken);

    public override async ValueTask DisposeAsync()
    {
        ReturnBuffer();
        await inner.DisposeAsync();
        await base.DisposeAsync();
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            ReturnBuffer();
            inner.Dispose();
        }

        base.Dispose(disposing);
    }

    private async ValueTask WriteBufferedAsync()
    {
        if (_length == 0)
        {
            return;
        }

        var length = _length;
        _length = 0;
        await inner.WriteAsync(_buffer.AsMemory(0, length));

        // An idle connection holds no batch buffer.
        ReturnBuffer();
    }

    private void ReturnBuffer()
    {
        if (_buffer is { } buffer)
        {
            _buffer = null;
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}

/// <summary>Writes a frame's payload into exactly the span it is given.</summary>
internal delegate void PayloadWriter<in TState>(Span<byte> destination, TState state);

/// <summary>Hands the WebSocket middleware a <see cref="CoalescingStream"/> in place of the upgraded stream.</summary>
internal sealed class CoalescingUpgradeFeature(IHttpUpgradeFeature inner, int maxBatchBytes) : IHttpUpgradeFeature
{
    public bool IsUpgradableRequest => inner.IsUpgradableRequest;

    /// <summary>The stream the WebSocket writes to, once upgraded.</summary>
    public CoalescingStream? Stream { get; private set; }

    public async Task<Stream> UpgradeAsync()
    {
        Stream = new CoalescingStream(await inner.UpgradeAsync(), maxBatchBytes);
        return Stream;
    }
}
