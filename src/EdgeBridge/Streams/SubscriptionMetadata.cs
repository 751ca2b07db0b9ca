using Grpc.Core;

namespace EdgeBridge.Streams;

/// <summary>
/// The metadata a client asks to send with one subscription's upstream call (a request id, a tracing or idempotency
/// key). Whatever the transport, only the keys the operator lists in <c>ForwardedMetadata</c> are forwarded, and
/// never one the edge or gRPC owns: the caller's identity comes from its validated token, not from what it writes here.
/// </summary>
internal static class SubscriptionMetadata
{
    /// <summary>
    /// Keys no configuration may forward: credentials and identity (the edge sets them from the token), HTTP/2 and
    /// gRPC's own headers, and binary values (the protocols carry text).
    /// </summary>
    public static string? Reserved(string key)
    {
        if (key is "authorization" or "cookie" or "host" or "te" or "content-type" or "user-agent" or "connection"
            || key.StartsWith("grpc-", StringComparison.Ordinal)
            || key.StartsWith("x-edgebridge-", StringComparison.Ordinal)
            || key.StartsWith(':'))
        {
            return $"'{key}' is set by the edge or by gRPC itself";
        }

        if (key.EndsWith("-bin", StringComparison.Ordinal))
        {
            return $"'{key}' is binary metadata; only text metadata is forwarded";
        }

        foreach (var c in key)
        {
            if (c is not ((>= 'a' and <= 'z') or (>= '0' and <= '9') or '-' or '_' or '.'))
            {
                return $"'{key}' is not a gRPC metadata key (lowercase letters, digits, '-', '_' and '.')";
            }
        }

        return key.Length == 0 ? "an empty key is not a gRPC metadata key" : null;
    }

    /// <summary>
    /// Checks a subscription's metadata against the edge's rules; returns why it cannot be forwarded, or null with
    /// the entries added to <paramref name="headers"/>.
    /// </summary>
    public static string? TryAppend(IReadOnlyList<KeyValuePair<string, string>> entries, IReadOnlyList<string> forwarded, int maxBytes, Metadata headers)
    {
        var bytes = 0;
        foreach (var (name, value) in entries)
        {
            var key = name.ToLowerInvariant();
            if (!Forwards(forwarded, key))
            {
                return Reserved(key) is { } reserved
                    ? $"metadata {reserved}."
                    : $"metadata '{Shorten(key)}' is not forwarded by this edge (EdgeBridge:WebSockets:ForwardedMetadata lists the keys it forwards).";
            }

            foreach (var c in value)
            {
                if (c is < ' ' or > '~')
                {
                    return $"metadata '{key}' must be printable ASCII.";
                }
            }

            bytes += key.Length + value.Length;
            if (bytes > maxBytes)
            {
                return $"metadata is larger than this edge's limit of {maxBytes} bytes.";
            }
        }

        foreach (var (name, value) in entries)
        {
            headers.Add(name.ToLowerInvariant(), value);
        }

        return null;
    }

    // The list is the operator's handful of keys: a scan beats building a set per connection.
    private static bool Forwards(IReadOnlyList<string> forwarded, string key)
    {
        foreach (var allowed in forwarded)
        {
            if (string.Equals(allowed, key, StringComparison.OrdinalIgnoreCase))
            {
                return Reserved(key) is null;
            }
        }

        return false;
    }

    private static string Shorten(string key) => key.Length <= 64 ? key : key[..64] + "…";
}
