using System.Net.WebSockets;
using System.Text.Json;
using EdgeBridge.Streams;

namespace EdgeBridge.WebSockets;

/// <summary>A client frame of <c>edgebridge.v1</c>, parsed: one of the commands, or why it was malformed.</summary>
internal abstract record ClientFrame
{
    /// <summary>
    /// A frame that breaks the protocol's syntax; answered by an error frame and counted against the connection.
    /// <paramref name="Type"/> is the frame's type when it had a valid one.
    /// </summary>
    public sealed record Malformed(string Problem, string? Type = null) : ClientFrame;

    /// <summary><c>init</c>; <paramref name="TokenInvalid"/> when a token was given but is not a string.</summary>
    public sealed record Init(string? Token, bool TokenInvalid) : ClientFrame;

    /// <summary><c>auth</c>: a fresh token for the connection.</summary>
    public sealed record Auth(string Token) : ClientFrame;

    /// <summary>
    /// <c>subscribe</c>. <paramref name="Request"/> is the raw JSON object of the request (<c>{}</c> when absent);
    /// <paramref name="Metadata"/> the subscription's own metadata for the upstream call (empty when absent);
    /// <paramref name="Problem"/> says what of the frame the method cannot accept, answered with an error for this id.
    /// </summary>
    public sealed record Subscribe(
        string Id,
        string Method,
        MessageEncoding Encoding,
        string Request,
        IReadOnlyList<KeyValuePair<string, string>> Metadata,
        SubscribeProblem Problem) : ClientFrame;

    public sealed record Unsubscribe(string Id) : ClientFrame;

    /// <summary><c>call</c>: one unary call; <paramref name="Request"/> the raw JSON object (<c>{}</c> when absent), null when it is not an object.</summary>
    public sealed record Call(string Id, string Method, string? Request) : ClientFrame;

    /// <summary>
    /// <c>send</c>: one message for a client-streaming or bidirectional stream; <paramref name="Message"/> the raw JSON
    /// object, null when it is not an object.
    /// </summary>
    public sealed record Send(string Id, string? Message) : ClientFrame;

    /// <summary><c>end</c>: the client has no more messages for the stream (half-close).</summary>
    public sealed record End(string Id) : ClientFrame;

    public sealed record Ping : ClientFrame;

    public sealed record Pong : ClientFrame;
}

/// <summary>What of a well-formed <c>subscribe</c> cannot be used.</summary>
internal enum SubscribeProblem
{
    None,
    UnknownEncoding,
    RequestNotAnObject,
    MetadataNotStrings,
    TooMuchMetadata,
}

/// <summary>
/// Parses client frames: the protocol's syntax only, with no state. What a command means for the connection is the
/// session's business (<see cref="WebSocketSession"/>).
/// </summary>
internal static class ClientFrames
{
    /// <summary>Longest subscription id; ids are echoed in every frame of the subscription.</summary>
    public const int MaxIdLength = 64;

    /// <summary>Most metadata entries one <c>subscribe</c> may carry, whatever the edge forwards.</summary>
    public const int MaxMetadataEntries = 16;

    private static readonly ClientFrame s_ping = new ClientFrame.Ping();
    private static readonly ClientFrame s_pong = new ClientFrame.Pong();

    public static ClientFrame Parse(ReadOnlyMemory<byte> frame, WebSocketMessageType type)
    {
        if (type != WebSocketMessageType.Text)
        {
            return new ClientFrame.Malformed("Frames must be text frames holding one JSON object.");
        }

        JsonDocument document;
        try
        {
            // Parsed in place: the document is disposed before the caller's (pooled) buffer goes back.
            document = JsonDocument.Parse(frame);
        }
        catch (JsonException)
        {
            return new ClientFrame.Malformed("The frame is not valid JSON.");
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("type", out var typeElement) || typeElement.ValueKind != JsonValueKind.String)
            {
                return new ClientFrame.Malformed("The frame must be a JSON object with a string 'type'.");
            }

            return typeElement.GetString() switch
            {
                "subscribe" => Subscribe(root),
                "unsubscribe" => TryGetId(root, out var id) ? new ClientFrame.Unsubscribe(id) : IdMissing("unsubscribe"),
                "call" => Call(root),
                "send" => Send(root),
                "end" => TryGetId(root, out var endId) ? new ClientFrame.End(endId) : IdMissing("end"),
                "ping" => s_ping,
                "pong" => s_pong,
                "init" => Init(root),
                "auth" => root.TryGetProperty("token", out var token) && token.ValueKind == JsonValueKind.String
                    ? new ClientFrame.Auth(token.GetString()!)
                    : new ClientFrame.Malformed("auth needs a string 'token'.", "auth"),
                var other => new ClientFrame.Malformed($"Unknown frame type '{Truncate(other!)}'.", other),
            };
        }
    }

    private static ClientFrame.Init Init(JsonElement root)
    {
        if (!root.TryGetProperty("token", out var token) || token.ValueKind == JsonValueKind.Null)
        {
            return new ClientFrame.Init(null, TokenInvalid: false);
        }

        return token.ValueKind == JsonValueKind.String
            ? new ClientFrame.Init(token.GetString(), TokenInvalid: false)
            : new ClientFrame.Init(null, TokenInvalid: true);
    }

    private static ClientFrame Subscribe(JsonElement root)
    {
        if (!TryGetId(root, out var id))
        {
            return IdMissing("subscribe");
        }

        if (!root.TryGetProperty("method", out var method) || method.ValueKind != JsonValueKind.String)
        {
            return new ClientFrame.Malformed("subscribe needs a string 'method' (package.Service/Method).", "subscribe");
        }

        var problem = SubscribeProblem.None;
        var encoding = MessageEncoding.Json;
        if (root.TryGetProperty("encoding", out var encodingElement) && encodingElement.ValueKind != JsonValueKind.Null
            && !(encodingElement.ValueKind == JsonValueKind.String && TryParseEncoding(encodingElement.GetString()!, out encoding)))
        {
            problem = SubscribeProblem.UnknownEncoding;
        }

        var request = "{}";
        if (root.TryGetProperty("request", out var requestElement) && requestElement.ValueKind != JsonValueKind.Null)
        {
            if (requestElement.ValueKind == JsonValueKind.Object)
            {
                request = requestElement.GetRawText();
            }
            else if (problem == SubscribeProblem.None)
            {
                problem = SubscribeProblem.RequestNotAnObject;
            }
        }

        IReadOnlyList<KeyValuePair<string, string>> metadata = [];
        if (root.TryGetProperty("metadata", out var metadataElement) && metadataElement.ValueKind != JsonValueKind.Null)
        {
            var (entries, metadataProblem) = Metadata(metadataElement);
            metadata = entries;
            if (problem == SubscribeProblem.None)
            {
                problem = metadataProblem;
            }
        }

        return new ClientFrame.Subscribe(id, method.GetString()!, encoding, request, metadata, problem);
    }

    // Only the shape is checked here; which keys an edge forwards, and how much, is the session's decision.
    private static (IReadOnlyList<KeyValuePair<string, string>> Entries, SubscribeProblem Problem) Metadata(JsonElement element)
    {
        if (element.ValueKind != JsonValueKind.Object)
        {
            return ([], SubscribeProblem.MetadataNotStrings);
        }

        var entries = new List<KeyValuePair<string, string>>();
        foreach (var property in element.EnumerateObject())
        {
            if (property.Value.ValueKind != JsonValueKind.String)
            {
                return ([], SubscribeProblem.MetadataNotStrings);
            }

            if (entries.Count == MaxMetadataEntries)
            {
                return ([], SubscribeProblem.TooMuchMetadata);
            }

            entries.Add(new(property.Name, property.Value.GetString()!));
        }

        return (entries, SubscribeProblem.None);
    }

    private static ClientFrame Call(JsonElement root)
    {
        if (!TryGetId(root, out var id))
        {
            return IdMissing("call");
        }

        if (!root.TryGetProperty("method", out var method) || method.ValueKind != JsonValueKind.String)
        {
            return new ClientFrame.Malformed("call needs a string 'method' (package.Service/Method).", "call");
        }

        string? request = "{}";
        if (root.TryGetProperty("request", out var element) && element.ValueKind != JsonValueKind.Null)
        {
            request = element.ValueKind == JsonValueKind.Object ? element.GetRawText() : null;
        }

        return new ClientFrame.Call(id, method.GetString()!, request);
    }

    private static ClientFrame Send(JsonElement root)
    {
        if (!TryGetId(root, out var id))
        {
            return IdMissing("send");
        }

        // A message is required: an empty one is {}, never an absent field.
        return new ClientFrame.Send(id, root.TryGetProperty("message", out var element) && element.ValueKind == JsonValueKind.Object ? element.GetRawText() : null);
    }

    private static bool TryParseEncoding(string value, out MessageEncoding encoding)
    {
        (var known, encoding) = value switch
        {
            "json" => (true, MessageEncoding.Json),
            "proto" => (true, MessageEncoding.Proto),
            _ => (false, MessageEncoding.Json),
        };
        return known;
    }

    private static ClientFrame.Malformed IdMissing(string type) => new($"{type} needs an 'id' of 1 to {MaxIdLength} characters.", type);

    private static bool TryGetId(JsonElement root, out string id)
    {
        id = root.TryGetProperty("id", out var element) && element.ValueKind == JsonValueKind.String ? element.GetString()! : "";
        return id.Length is >= 1 and <= MaxIdLength;
    }

    // A client's unknown type is echoed back, but never more than a short prefix of it.
    private static string Truncate(string value) => value.Length <= MaxIdLength ? value : value[..MaxIdLength] + "…";
}
