namespace EdgeBridge.WebSockets;

/// <summary>How a subscription's <c>next</c> frames carry the upstream messages; chosen in <c>subscribe</c>.</summary>
internal enum MessageEncoding
{
    /// <summary>Text frames of JSON holding the message as canonical proto3 JSON (the default).</summary>
    Json,

    /// <summary>Binary frames holding an <c>edgebridge.v1.NextFrame</c> with the message in protobuf binary encoding.</summary>
    Proto,
}
