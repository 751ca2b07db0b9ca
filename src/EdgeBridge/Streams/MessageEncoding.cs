namespace EdgeBridge.Streams;

/// <summary>
/// How a sink wants an upstream stream's messages encoded. A stream encodes each message once per encoding its
/// sinks use, and every sink of that encoding gets the same bytes.
/// </summary>
internal enum MessageEncoding
{
    /// <summary>Canonical proto3 JSON, compact UTF-8 (the default).</summary>
    Json,

    /// <summary>Protobuf binary encoding.</summary>
    Proto,
}
