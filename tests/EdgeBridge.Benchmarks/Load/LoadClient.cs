using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;

namespace EdgeBridge.Benchmarks.Load;

/// <summary>
/// A lean WebSocket client on a raw socket (hand-rolled framing, one pooled buffer), so that the load generator
/// can read hundreds of thousands of messages a second on the same small machine as the servers it measures.
/// </summary>
internal sealed class LoadClient : IAsyncDisposable
{
    private static readonly byte[] s_time = "time"u8.ToArray();
    private readonly Socket _socket;
    // Pinned for the socket's reads all its life: on the pinned heap, thousands of them fragment nothing.
    private readonly byte[] _buffer = GC.AllocateUninitializedArray<byte>(64 * 1024, pinned: true);
    private readonly int _sampleEvery;
    private readonly Latencies? _latencies;
    private readonly TaskCompletionSource _first = new(TaskCreationOptions.RunContinuationsAsynchronously);

    // A server-sent-event stream rather than a WebSocket: the bytes are counted as they come, no frames.
    private bool _eventStream;
    private bool _envelopes;
    private bool _protoEnvelopes;

    // An enveloped stream (Connect, gRPC-Web) arrives chunked: its body, de-chunked, waits here for whole envelopes.
    private readonly byte[] _body = new byte[128 * 1024];
    private int _bodyStart;
    private int _bodyEnd;
    private long _chunkLeft;
    private int _chunkTrailer;
    private long _messages;
    private long _bytesReceived;
    private long _bytesSent;
    private int _untilSample;

    private LoadClient(Socket socket, int sampleEvery, Latencies? latencies)
    {
        _socket = socket;
        _sampleEvery = sampleEvery;
        _latencies = latencies;
    }

    public long Messages => Volatile.Read(ref _messages);

    /// <summary>Completes when the first message arrives.</summary>
    public Task FirstMessage => _first.Task;

    /// <summary>Bytes read from and written to the socket after the handshake: what the conversation costs on the wire.</summary>
    public long WireBytes => Volatile.Read(ref _bytesReceived) + Volatile.Read(ref _bytesSent);

    /// <summary>Whether latencies (publish → receive) of every <c>sampleEvery</c>-th message go to the shared recorder.</summary>
    public bool Recording { get; set; }

    public static async Task<LoadClient> ConnectAsync(IPAddress local, int port, string path, string? subprotocol, int sampleEvery, Latencies? latencies, CancellationToken cancellationToken)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        socket.Bind(new IPEndPoint(local, 0));
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), cancellationToken);
        var key = Convert.ToBase64String(RandomNumberGenerator.GetBytes(16));
        var eventStream = path.StartsWith("/stream/", StringComparison.Ordinal);

        // "POST <content type> <path>": a Connect or gRPC-Web server stream of every symbol.
        var post = path.StartsWith("POST ", StringComparison.Ordinal) ? path.Split(' ') : null;
        var proto = post is not null && post[1].StartsWith("application/grpc-web", StringComparison.Ordinal);
        var body = post is null ? [] : proto ? new byte[5] : [0, 0, 0, 0, 2, (byte)'{', (byte)'}'];
        var request = post is not null
            ? $"POST {post[2]} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: {post[1]}\r\nContent-Length: {body.Length}\r\n\r\n"
            : eventStream
            ? $"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAccept: text/event-stream\r\n\r\n"
            : $"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
              $"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n" +
              (subprotocol is null ? "" : $"Sec-WebSocket-Protocol: {subprotocol}\r\n") + "\r\n";
        await socket.SendAsync(Encoding.ASCII.GetBytes(request), cancellationToken);
        if (post is not null)
        {
            await socket.SendAsync(body, cancellationToken);
        }

        // Read the response headers byte by byte: nothing after them may be consumed here.
        var header = new StringBuilder();
        var one = new byte[1];
        while (!header.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal))
        {
            if (await socket.ReceiveAsync(one, cancellationToken) == 0)
            {
                throw new IOException("closed during the handshake");
            }

            header.Append((char)one[0]);
        }

        if (!header.ToString().StartsWith(eventStream || post is not null ? "HTTP/1.1 200" : "HTTP/1.1 101", StringComparison.Ordinal))
        {
            socket.Dispose();
            throw UpgradeRefusedException.From(header.ToString());
        }

        return new LoadClient(socket, sampleEvery, latencies) { _eventStream = eventStream, _envelopes = post is not null, _protoEnvelopes = proto };
    }

    public async Task SendTextAsync(string text)
    {
        var frame = Mask(Encoding.UTF8.GetBytes(text));
        Interlocked.Add(ref _bytesSent, frame.Length);
        await _socket.SendAsync(frame);
    }

    /// <summary>Reads frames until cancelled, counting the ones that carry a message.</summary>
    public async Task RunAsync(byte[] marker, CancellationToken cancellationToken)
    {
        var start = 0;
        var end = 0;
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                var read = await _socket.ReceiveAsync(_buffer.AsMemory(end), cancellationToken);
                if (read == 0)
                {
                    return;
                }

                end += read;
                Interlocked.Add(ref _bytesReceived, read);
                start = _envelopes ? ParseChunks(start, end) : _eventStream ? ParseEvents(start, end, marker) : Parse(start, end, marker);
                if (start == end)
                {
                    start = end = 0;
                }
                else if (end == _buffer.Length)
                {
                    Buffer.BlockCopy(_buffer, start, _buffer, 0, end - start);
                    end -= start;
                    start = 0;
                }
            }
        }
        catch (Exception) when (cancellationToken.IsCancellationRequested)
        {
        }
        catch (SocketException)
        {
        }
    }

    private int Parse(int start, int end, byte[] marker)
    {
        while (end - start >= 2)
        {
            var length = (long)(_buffer[start + 1] & 0x7F);
            var header = 2;
            if (length == 126)
            {
                if (end - start < 4) break;
                length = (_buffer[start + 2] << 8) | _buffer[start + 3];
                header = 4;
            }
            else if (length == 127)
            {
                if (end - start < 10) break;
                length = System.Buffers.Binary.BinaryPrimitives.ReadInt64BigEndian(_buffer.AsSpan(start + 2));
                header = 10;
            }

            if (end - start < header + length)
            {
                break;
            }

            var payload = _buffer.AsSpan(start + header, (int)length);
            switch (_buffer[start] & 0x0F)
            {
                case 1:
                    OnText(payload, marker);
                    break;
                case 2:
                    OnBinary(payload);
                    break;
            }

            start += header + (int)length;
        }

        return start;
    }

    /// <summary>
    /// Counts complete events (up to their blank line) that carry the marker; what follows the last complete one
    /// stays for the next read. Chunk-size lines of the chunked encoding fall between events and are not counted.
    /// </summary>
    private int ParseEvents(int start, int end, byte[] marker)
    {
        while (true)
        {
            var rest = _buffer.AsSpan(start, end - start);
            var blank = rest.IndexOf("\n\n"u8);
            if (blank < 0)
            {
                return start;
            }

            var item = rest[..blank];
            if (item.IndexOf(marker) >= 0)
            {
                Interlocked.Increment(ref _messages);
                _first.TrySetResult();
                if (_latencies is not null && Recording && --_untilSample <= 0)
                {
                    _untilSample = _sampleEvery;
                    if (LatencyMicros(item) is { } micros)
                    {
                        _latencies.Record(micros);
                    }
                }
            }

            start += blank + 2;
        }
    }

    /// <summary>De-chunks the body (chunk-size line, data, CRLF) into <see cref="_body"/>, then counts its envelopes.</summary>
    private int ParseChunks(int start, int end)
    {
        while (start < end)
        {
            if (_chunkTrailer > 0)
            {
                var skip = Math.Min(_chunkTrailer, end - start);
                _chunkTrailer -= skip;
                start += skip;
            }
            else if (_chunkLeft == 0)
            {
                var line = _buffer.AsSpan(start, end - start).IndexOf("\r\n"u8);
                if (line < 0)
                {
                    return start;
                }

                _chunkLeft = long.Parse(Encoding.ASCII.GetString(_buffer, start, line).Split(';')[0], System.Globalization.NumberStyles.HexNumber, System.Globalization.CultureInfo.InvariantCulture);
                start += line + 2;
                if (_chunkLeft == 0)
                {
                    return end;
                }
            }
            else
            {
                if (_bodyEnd == _body.Length)
                {
                    Buffer.BlockCopy(_body, _bodyStart, _body, 0, _bodyEnd - _bodyStart);
                    _bodyEnd -= _bodyStart;
                    _bodyStart = 0;
                }

                var take = (int)Math.Min(Math.Min(_chunkLeft, end - start), _body.Length - _bodyEnd);
                Buffer.BlockCopy(_buffer, start, _body, _bodyEnd, take);
                _bodyEnd += take;
                start += take;
                _chunkLeft -= take;
                if (_chunkLeft == 0)
                {
                    _chunkTrailer = 2;
                }

                ParseEnvelopes();
            }
        }

        return start;
    }

    private void ParseEnvelopes()
    {
        while (_bodyEnd - _bodyStart >= 5)
        {
            var length = (int)System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(_body.AsSpan(_bodyStart + 1));
            if (_bodyEnd - _bodyStart < 5 + length)
            {
                return;
            }

            if (_body[_bodyStart] == 0)
            {
                Interlocked.Increment(ref _messages);
                _first.TrySetResult();
                if (_latencies is not null && Recording && --_untilSample <= 0)
                {
                    _untilSample = _sampleEvery;
                    var message = _body.AsSpan(_bodyStart + 5, length);
                    if (_protoEnvelopes)
                    {
                        _latencies.Record(DateTime.UtcNow - Trading.V1.StreamQuotesResponse.Parser.ParseFrom(message).Quote.Time.ToDateTime());
                    }
                    else if (LatencyMicros(message) is { } micros)
                    {
                        _latencies.Record(micros);
                    }
                }
            }

            _bodyStart += 5 + length;
        }

        if (_bodyStart == _bodyEnd)
        {
            _bodyStart = _bodyEnd = 0;
        }
    }

    private void OnText(ReadOnlySpan<byte> payload, byte[] marker)
    {
        // SignalR packs several records in one frame; count every occurrence of the marker.
        var count = 0;
        var rest = payload;
        int at;
        while ((at = rest.IndexOf(marker)) >= 0)
        {
            count++;
            rest = rest[(at + marker.Length)..];
        }

        if (count == 0)
        {
            if (payload.IndexOf("\"ping\""u8) >= 0)
            {
                _ = SendTextAsync("{\"type\":\"pong\"}");
            }

            return;
        }

        Interlocked.Add(ref _messages, count);
        _first.TrySetResult();
        if (_latencies is not null && Recording && --_untilSample <= 0)
        {
            _untilSample = _sampleEvery;
            if (LatencyMicros(payload) is { } micros)
            {
                _latencies.Record(micros);
            }
        }
    }

    /// <summary>A binary <c>next</c> frame of EdgeBridge (<c>edgebridge.v1.NextFrame</c> holding a quote).</summary>
    private void OnBinary(ReadOnlySpan<byte> payload)
    {
        Interlocked.Increment(ref _messages);
        _first.TrySetResult();
        if (_latencies is not null && Recording && --_untilSample <= 0)
        {
            _untilSample = _sampleEvery;
            var frame = EdgeBridge.Contracts.V1.NextFrame.Parser.ParseFrom(payload);
            var quote = Trading.V1.StreamQuotesResponse.Parser.ParseFrom(frame.Message).Quote;
            _latencies.Record(DateTime.UtcNow - quote.Time.ToDateTime());
        }
    }

    /// <summary>Now minus the quote's RFC 3339 time, read straight from the UTF-8 bytes; null without one.</summary>
    private static long? LatencyMicros(ReadOnlySpan<byte> payload)
    {
        var at = payload.IndexOf(s_time);
        if (at < 0) return null;
        var rest = payload[(at + s_time.Length)..];
        var digit = rest.IndexOfAnyInRange((byte)'0', (byte)'9');
        if (digit < 0 || rest.Length < digit + 20) return null;
        var text = Encoding.ASCII.GetString(rest.Slice(digit, Math.Min(30, rest.Length - digit)));
        var z = text.IndexOf('Z', StringComparison.Ordinal);
        if (z < 0) return null;
        text = text[..z];
        var dot = text.IndexOf('.', StringComparison.Ordinal);
        var seconds = DateTime.ParseExact(dot < 0 ? text : text[..dot], "yyyy-MM-ddTHH:mm:ss", System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AdjustToUniversal | System.Globalization.DateTimeStyles.AssumeUniversal);
        var fraction = dot < 0 ? 0 : long.Parse(text[(dot + 1)..].PadRight(7, '0')[..7], System.Globalization.CultureInfo.InvariantCulture);
        var sent = seconds.Ticks + fraction;
        return (DateTime.UtcNow.Ticks - sent) / TimeSpan.TicksPerMicrosecond;
    }

    private static byte[] Mask(byte[] payload)
    {
        var header = payload.Length < 126 ? 2 : 4;
        var frame = new byte[header + 4 + payload.Length];
        frame[0] = 0x81;
        if (header == 2)
        {
            frame[1] = (byte)(0x80 | payload.Length);
        }
        else
        {
            frame[1] = 0x80 | 126;
            frame[2] = (byte)(payload.Length >> 8);
            frame[3] = (byte)payload.Length;
        }

        var mask = RandomNumberGenerator.GetBytes(4);
        mask.CopyTo(frame, header);
        for (var i = 0; i < payload.Length; i++)
        {
            frame[header + 4 + i] = (byte)(payload[i] ^ mask[i % 4]);
        }

        return frame;
    }

    public ValueTask DisposeAsync()
    {
        _socket.Dispose();
        return ValueTask.CompletedTask;
    }
}

/// <summary>The server answered the upgrade with something other than 101: its status and, when given, Retry-After.</summary>
internal sealed class UpgradeRefusedException(int status, int? retryAfterSeconds, string statusLine) : IOException("upgrade refused: " + statusLine)
{
    public int Status { get; } = status;

    public int? RetryAfterSeconds { get; } = retryAfterSeconds;

    public static UpgradeRefusedException From(string head)
    {
        var lines = head.Split("\r\n");
        var status = lines[0].Split(' ') is [_, var code, ..] && int.TryParse(code, out var parsed) ? parsed : 0;
        int? retryAfter = null;
        foreach (var line in lines)
        {
            if (line.StartsWith("Retry-After:", StringComparison.OrdinalIgnoreCase) && int.TryParse(line["Retry-After:".Length..].Trim(), out var seconds))
            {
                retryAfter = seconds;
            }
        }

        return new UpgradeRefusedException(status, retryAfter, lines[0]);
    }
}
