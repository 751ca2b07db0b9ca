using System.Buffers.Text;
using System.Text;

namespace EdgeBridge.WebSockets;

/// <summary>What <see cref="UpgradeRequest.Parse"/> made of the bytes a connection has sent so far.</summary>
internal enum UpgradeParse
{
    /// <summary>Consistent with an upgrade so far, but the request head is not complete yet.</summary>
    Incomplete,

    /// <summary>Not a plain upgrade to the endpoint: Kestrel's HTTP layer gets the connection, untouched.</summary>
    Declined,

    /// <summary>A complete, well-formed upgrade to the endpoint offering <c>edgebridge.v1</c>.</summary>
    Accepted,
}

/// <summary>
/// The head of an HTTP/1.1 WebSocket upgrade (RFC 6455 §4.2.1), read strictly. Only the plainest form is accepted:
/// <c>GET {path} HTTP/1.1</c>, each header on one line of visible ASCII, exactly one Host, Upgrade, key and
/// version, no body. Whatever is unusual — obs-fold, a query string, a duplicate, a body, a byte outside visible
/// ASCII — is declined rather than interpreted, and Kestrel's own parser answers it.
/// </summary>
internal readonly record struct UpgradeRequest(string Key, string Host, string? Origin, int HeadLength)
{
    /// <summary>Longer heads are declined; a browser's upgrade, cookies included, is usually under 2 KB.</summary>
    public const int MaxHeadBytes = 8 * 1024;

    private static readonly byte[] s_subprotocol = Encoding.ASCII.GetBytes(ServerFrames.Subprotocol);

    private static ReadOnlySpan<byte> EndOfHead => "\r\n\r\n"u8;

    /// <summary>The request line this endpoint accepts: <c>GET {path} HTTP/1.1\r\n</c>.</summary>
    public static byte[] RequestLine(string path) => Encoding.ASCII.GetBytes("GET " + path + " HTTP/1.1\r\n");

    public static UpgradeParse Parse(ReadOnlySpan<byte> bytes, ReadOnlySpan<byte> requestLine, out UpgradeRequest request)
    {
        request = default;
        if (bytes.Length < requestLine.Length)
        {
            return requestLine.StartsWith(bytes) ? UpgradeParse.Incomplete : UpgradeParse.Declined;
        }

        if (!bytes.StartsWith(requestLine))
        {
            return UpgradeParse.Declined;
        }

        var end = bytes.IndexOf(EndOfHead);
        if (end < 0)
        {
            return bytes.Length >= MaxHeadBytes ? UpgradeParse.Declined : UpgradeParse.Incomplete;
        }

        if (end + EndOfHead.Length > MaxHeadBytes)
        {
            return UpgradeParse.Declined;
        }

        string? host = null, key = null, origin = null;
        bool upgrade = false, connectionUpgrade = false, version = false, subprotocol = false;
        var lines = bytes[requestLine.Length..(end + 2)];
        while (!lines.IsEmpty)
        {
            var lineEnd = lines.IndexOf("\r\n"u8);
            var line = lines[..lineEnd];
            lines = lines[(lineEnd + 2)..];
            var colon = line.IndexOf((byte)':');
            if (colon <= 0 || !IsToken(line[..colon]))
            {
                // Also obs-fold (a line starting with a space), which has no name.
                return UpgradeParse.Declined;
            }

            var name = line[..colon];
            var value = line[(colon + 1)..].Trim(" \t"u8);
            if (!IsVisible(value))
            {
                return UpgradeParse.Declined;
            }

            if (Is(name, "host"u8))
            {
                if (host is not null || value.IsEmpty)
                {
                    return UpgradeParse.Declined;
                }

                host = Encoding.ASCII.GetString(value);
            }
            else if (Is(name, "upgrade"u8))
            {
                if (upgrade || !Is(value, "websocket"u8))
                {
                    return UpgradeParse.Declined;
                }

                upgrade = true;
            }
            else if (Is(name, "connection"u8))
            {
                connectionUpgrade |= HasToken(value, "upgrade"u8, ignoreCase: true);
            }
            else if (Is(name, "sec-websocket-key"u8))
            {
                if (key is not null || !IsKey(value))
                {
                    return UpgradeParse.Declined;
                }

                key = Encoding.ASCII.GetString(value);
            }
            else if (Is(name, "sec-websocket-version"u8))
            {
                if (version || !value.SequenceEqual("13"u8))
                {
                    return UpgradeParse.Declined;
                }

                version = true;
            }
            else if (Is(name, "sec-websocket-protocol"u8))
            {
                subprotocol |= HasToken(value, s_subprotocol, ignoreCase: false);
            }
            else if (Is(name, "origin"u8))
            {
                if (origin is not null)
                {
                    return UpgradeParse.Declined;
                }

                origin = Encoding.ASCII.GetString(value);
            }
            else if (Is(name, "content-length"u8) || Is(name, "transfer-encoding"u8))
            {
                return UpgradeParse.Declined;
            }
        }

        if (host is null || key is null || !upgrade || !connectionUpgrade || !version || !subprotocol)
        {
            return UpgradeParse.Declined;
        }

        request = new UpgradeRequest(key, host, origin, end + EndOfHead.Length);
        return UpgradeParse.Accepted;
    }

    /// <summary><c>Sec-WebSocket-Accept</c>: base64(SHA-1(key + the RFC's GUID)).</summary>
    public static string AcceptKey(string key)
    {
        Span<byte> input = stackalloc byte[24 + 36];
        Encoding.ASCII.GetBytes(key, input);
        "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"u8.CopyTo(input[24..]);
        Span<byte> hash = stackalloc byte[20];
#pragma warning disable CA5350 // SHA-1 is what RFC 6455 prescribes here; it is not used for security.
        System.Security.Cryptography.SHA1.HashData(input, hash);
#pragma warning restore CA5350
        return Convert.ToBase64String(hash);
    }

    private static bool Is(ReadOnlySpan<byte> value, ReadOnlySpan<byte> lowercase) =>
        value.Length == lowercase.Length && Ascii.EqualsIgnoreCase(value, lowercase);

    private static bool HasToken(ReadOnlySpan<byte> list, ReadOnlySpan<byte> token, bool ignoreCase)
    {
        foreach (var range in list.Split((byte)','))
        {
            var item = list[range].Trim(" \t"u8);
            if (ignoreCase ? Is(item, token) : item.SequenceEqual(token))
            {
                return true;
            }
        }

        return false;
    }

    // A key is 16 random bytes in base64: 24 characters.
    private static bool IsKey(ReadOnlySpan<byte> value)
    {
        Span<byte> decoded = stackalloc byte[18];
        return value.Length == 24 && Base64.DecodeFromUtf8(value, decoded, out _, out var written) == System.Buffers.OperationStatus.Done && written == 16;
    }

    // RFC 9110 tchar.
    private static bool IsToken(ReadOnlySpan<byte> name)
    {
        foreach (var c in name)
        {
            if (!(char.IsAsciiLetterOrDigit((char)c) || "!#$%&'*+-.^_`|~"u8.Contains(c)))
            {
                return false;
            }
        }

        return true;
    }

    private static bool IsVisible(ReadOnlySpan<byte> value)
    {
        foreach (var c in value)
        {
            if (c is (< 0x20 and not (byte)'\t') or > 0x7E)
            {
                return false;
            }
        }

        return true;
    }
}
