using System.Buffers.Binary;
using System.Net.Http.Headers;
using System.Text;
using Google.Protobuf;

namespace EdgeBridge.FunctionalTests.Rpc;

/// <summary>
/// Connect and gRPC-Web as their specifications put them on the wire, written by hand so that a test sees every
/// byte the edge sends: envelopes, Connect's end-of-stream JSON, gRPC-Web's trailers frame.
/// </summary>
internal static class RpcWire
{
    public static byte[] Envelope(byte flags, ReadOnlySpan<byte> payload)
    {
        var frame = new byte[5 + payload.Length];
        frame[0] = flags;
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(1), (uint)payload.Length);
        payload.CopyTo(frame.AsSpan(5));
        return frame;
    }

    public static byte[] Envelope(string json) => Envelope(0, Encoding.UTF8.GetBytes(json));

    public static byte[] Envelope(IMessage message) => Envelope(0, message.ToByteArray());

    public static HttpRequestMessage Post(string path, byte[] body, string contentType, string? token = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        return request;
    }

    public static HttpRequestMessage Connect(string path, string json, string? token = null)
    {
        var request = Post(path, Encoding.UTF8.GetBytes(json), "application/json", token);
        request.Headers.Add("Connect-Protocol-Version", "1");
        return request;
    }

    /// <summary>Reads envelopes off a response body as they arrive.</summary>
    public sealed class EnvelopeReader(Stream body)
    {
        public async Task<(byte Flags, byte[] Payload)?> NextAsync(CancellationToken cancellationToken = default)
        {
            var header = new byte[5];
            if (!await FillAsync(header, cancellationToken))
            {
                return null;
            }

            var payload = new byte[BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(1))];
            if (!await FillAsync(payload, cancellationToken))
            {
                throw new EndOfStreamException("The body ended inside an envelope.");
            }

            return (header[0], payload);
        }

        private async Task<bool> FillAsync(byte[] buffer, CancellationToken cancellationToken)
        {
            var filled = 0;
            while (filled < buffer.Length)
            {
                var read = await body.ReadAsync(buffer.AsMemory(filled), cancellationToken);
                if (read == 0)
                {
                    // Between envelopes the body may end; inside one it may not.
                    return filled == 0 ? false : throw new EndOfStreamException("The body ended inside an envelope.");
                }

                filled += read;
            }

            return true;
        }
    }

    /// <summary>gRPC-Web's trailers frame as header name → value.</summary>
    public static Dictionary<string, string> Trailers(byte[] payload) => Encoding.ASCII.GetString(payload)
        .Split("\r\n", StringSplitOptions.RemoveEmptyEntries)
        .Select(line => line.Split(':', 2))
        .ToDictionary(parts => parts[0].Trim().ToLowerInvariant(), parts => parts[1].Trim());
}
