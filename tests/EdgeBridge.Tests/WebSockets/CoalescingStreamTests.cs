using System.Net.WebSockets;
using System.Text;
using EdgeBridge.WebSockets;

namespace EdgeBridge.Tests.WebSockets;

/// <summary>Frames written by a real <see cref="WebSocket"/> during a writer turn reach the connection in one write.</summary>
public sealed class CoalescingStreamTests
{
    [Fact]
    public async Task FramesOfOneBatch_LeaveInOneWrite_AndReadBackIntact()
    {
        var wire = new RecordingStream();
        await using var stream = new CoalescingStream(wire, maxBatchBytes: 4096);
        using var socket = WebSocket.CreateFromStream(stream, new WebSocketCreationOptions { IsServer = true, KeepAliveInterval = TimeSpan.Zero });

        stream.BeginBatch();
        for (var i = 0; i < 10; i++)
        {
            await socket.SendAsync(Encoding.UTF8.GetBytes($"{{\"n\":{i}}}"), WebSocketMessageType.Text, true, CancellationToken.None);
        }

        Assert.Empty(wire.Writes);
        await stream.EndBatchAsync();

        var write = Assert.Single(wire.Writes);
        Assert.Equal(Enumerable.Range(0, 10).Select(i => $"{{\"n\":{i}}}"), await ReadMessagesAsync(write, 10));
    }

    [Fact]
    public async Task OutsideABatch_EveryWritePassesStraightThrough()
    {
        var wire = new RecordingStream();
        await using var stream = new CoalescingStream(wire, maxBatchBytes: 4096);
        using var socket = WebSocket.CreateFromStream(stream, new WebSocketCreationOptions { IsServer = true, KeepAliveInterval = TimeSpan.Zero });

        await socket.SendAsync("a"u8.ToArray(), WebSocketMessageType.Text, true, CancellationToken.None);
        await socket.SendAsync("b"u8.ToArray(), WebSocketMessageType.Text, true, CancellationToken.None);

        Assert.Equal(2, wire.Writes.Count);
    }

    [Fact]
    public async Task ABatchLargerThanTheLimit_IsWrittenInPiecesNoLargerThanTheLimit()
    {
        var wire = new RecordingStream();
        await using var stream = new CoalescingStream(wire, maxBatchBytes: 1024);
        using var socket = WebSocket.CreateFromStream(stream, new WebSocketCreationOptions { IsServer = true, KeepAliveInterval = TimeSpan.Zero });
        var payload = Encoding.UTF8.GetBytes(new string('x', 300));

        stream.BeginBatch();
        for (var i = 0; i < 10; i++)
        {
            await socket.SendAsync(payload, WebSocketMessageType.Text, true, CancellationToken.None);
        }

        await stream.EndBatchAsync();

        Assert.InRange(wire.Writes.Count, 4, 5);
        Assert.All(wire.Writes, w => Assert.True(w.Length <= 1024));
        Assert.Equal(10, (await ReadMessagesAsync(wire.Writes.SelectMany(w => w).ToArray(), 10)).Count);
    }

    [Fact]
    public async Task FramesWrittenDirectly_InterleaveWithTheWebSocketsOwn_AndParseAsTextMessages()
    {
        var wire = new RecordingStream();
        await using var stream = new CoalescingStream(wire, maxBatchBytes: 1024);
        using var socket = WebSocket.CreateFromStream(stream, new WebSocketCreationOptions { IsServer = true, KeepAliveInterval = TimeSpan.Zero });
        var sizes = new[] { 5, 125, 126, 2000, 70_000 };

        stream.BeginBatch();
        foreach (var size in sizes)
        {
            await stream.WriteTextFrameAsync(Encoding.UTF8.GetBytes(new string('d', size)));
            await socket.SendAsync(Encoding.UTF8.GetBytes($"ws {size}"), WebSocketMessageType.Text, true, CancellationToken.None);
        }

        await stream.EndBatchAsync();
        await stream.WriteTextFrameAsync("after"u8.ToArray());

        var expected = sizes.SelectMany(size => new[] { new string('d', size), $"ws {size}" }).Append("after");
        Assert.Equal(expected, await ReadMessagesAsync(wire.Writes.SelectMany(w => w).ToArray(), (sizes.Length * 2) + 1, bufferBytes: 80_000));
    }

    [Fact]
    public async Task BinaryFrames_ParseAsBinaryMessages_BetweenTextOnes()
    {
        var wire = new RecordingStream();
        await using var stream = new CoalescingStream(wire, maxBatchBytes: 1024);
        var payload = new byte[] { 0x0A, 0x01, (byte)'q', 0x1A, 0x00 };

        stream.BeginBatch();
        await stream.WriteTextFrameAsync("text"u8.ToArray());
        await stream.WriteFrameAsync(binary: true, payload.Length, payload, static (destination, payload) => payload.CopyTo(destination));
        await stream.EndBatchAsync();

        using var client = WebSocket.CreateFromStream(new MemoryStream(wire.Writes.SelectMany(w => w).ToArray()),
            new WebSocketCreationOptions { IsServer = false, KeepAliveInterval = TimeSpan.Zero });
        var buffer = new byte[64];
        var first = await client.ReceiveAsync(buffer, CancellationToken.None);
        Assert.Equal(WebSocketMessageType.Text, first.MessageType);
        var second = await client.ReceiveAsync(buffer, CancellationToken.None);
        Assert.Equal(WebSocketMessageType.Binary, second.MessageType);
        Assert.True(second.EndOfMessage);
        Assert.Equal(payload, buffer[..second.Count]);
    }

    private static async Task<List<string>> ReadMessagesAsync(byte[] bytes, int count, int bufferBytes = 4096)
    {
        // A client reading what the server wrote: the frames must parse back into the same messages, and nothing
        // may be left over.
        var wire = new MemoryStream(bytes);
        using var client = WebSocket.CreateFromStream(wire, new WebSocketCreationOptions { IsServer = false, KeepAliveInterval = TimeSpan.Zero });
        var messages = new List<string>();
        var buffer = new byte[bufferBytes];
        for (var i = 0; i < count; i++)
        {
            var result = await client.ReceiveAsync(buffer, CancellationToken.None);
            Assert.True(result.EndOfMessage);
            messages.Add(Encoding.UTF8.GetString(buffer, 0, result.Count));
        }

        Assert.Equal(wire.Length, wire.Position);
        return messages;
    }

    /// <summary>Records each write that reaches the connection.</summary>
    private sealed class RecordingStream : MemoryStream
    {
        public List<byte[]> Writes { get; } = [];

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            Writes.Add(buffer.ToArray());
            return ValueTask.CompletedTask;
        }
    }
}
