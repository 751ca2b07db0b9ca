using System.Text.Json.Nodes;
using Google.Protobuf.Reflection;

namespace EdgeBridge.Documents;

/// <summary>
/// JSON Schemas of proto messages exactly as they travel in canonical proto3 JSON: lowerCamel names, 64-bit
/// integers as strings, enums as names, well-known types in their JSON forms. Shared by both documents.
/// </summary>
internal sealed class ProtoSchemas(string refPrefix)
{
    private readonly SortedDictionary<string, JsonObject> _schemas = new(StringComparer.Ordinal);
    private readonly HashSet<string> _pending = new(StringComparer.Ordinal);

    /// <summary>Every schema referenced so far, by full proto name.</summary>
    public IReadOnlyDictionary<string, JsonObject> All => _schemas;

    public JsonObject Reference(MessageDescriptor message) =>
        WellKnown(message) ?? Ref(message.FullName, () => Message(message));

    /// <summary>
    /// The error body of every failed call, the one definition both documents use: google.rpc.Status as its own
    /// descriptor says, with every field required, since the edge and the backend always write them.
    /// </summary>
    public JsonObject Status()
    {
        var reference = Reference(Google.Rpc.Status.Descriptor);
        var schema = _schemas[Google.Rpc.Status.Descriptor.FullName];
        schema["description"] = "The error of a failed call: a google.rpc.Status in proto3 JSON. 'code' is the gRPC status code (google.rpc.Code).";
        schema["required"] = new JsonArray("code", "message", "details");
        return reference;
    }

    /// <summary>An object schema of <paramref name="message"/> without some of its fields (those bound to a path).</summary>
    public JsonObject MessageWithout(MessageDescriptor message, IReadOnlySet<string> excludedFields) => Message(message, excludedFields);

    public JsonObject Field(FieldDescriptor field)
    {
        if (field.IsMap)
        {
            var value = field.MessageType.FindFieldByNumber(2);
            return Describe(new JsonObject { ["type"] = "object", ["additionalProperties"] = Single(value) }, field);
        }

        var single = Single(field);
        return Describe(field.IsRepeated ? new JsonObject { ["type"] = "array", ["items"] = single } : single, field);
    }

    private JsonObject Single(FieldDescriptor field) => field.FieldType switch
    {
        FieldType.Double or FieldType.Float => new JsonObject { ["type"] = "number" },
        FieldType.Int32 or FieldType.SInt32 or FieldType.SFixed32 => new JsonObject { ["type"] = "integer", ["format"] = "int32" },
        FieldType.UInt32 or FieldType.Fixed32 => new JsonObject { ["type"] = "integer", ["minimum"] = 0 },
        FieldType.Int64 or FieldType.SInt64 or FieldType.SFixed64 => Int64(signed: true),
        FieldType.UInt64 or FieldType.Fixed64 => Int64(signed: false),
        FieldType.Bool => new JsonObject { ["type"] = "boolean" },
        FieldType.String => new JsonObject { ["type"] = "string" },
        FieldType.Bytes => new JsonObject { ["type"] = "string", ["contentEncoding"] = "base64" },
        FieldType.Enum => Ref(field.EnumType.FullName, () => Enum(field.EnumType)),
        _ => Reference(field.MessageType),
    };

    private static JsonObject Int64(bool signed) => new()
    {
        ["type"] = "string",
        ["format"] = signed ? "int64" : "uint64",
        ["pattern"] = signed ? "^-?[0-9]+$" : "^[0-9]+$",
    };

    private JsonObject Message(MessageDescriptor message, IReadOnlySet<string>? excluded = null)
    {
        var properties = new JsonObject();
        foreach (var field in message.Fields.InDeclarationOrder())
        {
            if (excluded?.Contains(field.Name) == true)
            {
                continue;
            }

            var schema = Field(field);
            if (field.RealContainingOneof is { } oneof)
            {
                schema["description"] = ((string?)schema["description"] ?? "") + $" (One of '{oneof.Name}': at most one of its fields is set.)";
            }

            properties[field.JsonName] = schema;
        }

        return Describe(new JsonObject
        {
            ["type"] = "object",
            ["properties"] = properties,
            ["additionalProperties"] = false,
        }, message);
    }

    private static JsonObject Enum(EnumDescriptor descriptor)
    {
        var schema = new JsonObject
        {
            ["type"] = "string",
            ["enum"] = new JsonArray([.. descriptor.Values.Select(v => (JsonNode)JsonValue.Create(v.Name)!)]),
        };
        var lines = descriptor.Values.Select(v => $"- `{v.Name}`: {Comment(v)}".TrimEnd(' ', ':'));
        schema["description"] = (Comment(descriptor) + "\n\n" + string.Join("\n", lines)).Trim();
        return schema;
    }

    private JsonObject Ref(string name, Func<JsonObject> build)
    {
        if (!_schemas.ContainsKey(name) && _pending.Add(name))
        {
            _schemas[name] = build();
            _pending.Remove(name);
        }

        return new JsonObject { ["$ref"] = refPrefix + name };
    }

    /// <summary>The JSON forms of the well-known types (https://protobuf.dev/programming-guides/json/).</summary>
    private static JsonObject? WellKnown(MessageDescriptor message) => message.FullName switch
    {
        "google.protobuf.Timestamp" => new JsonObject { ["type"] = "string", ["format"] = "date-time" },
        "google.protobuf.Duration" => new JsonObject { ["type"] = "string", ["pattern"] = "^-?[0-9]+(\\.[0-9]{1,9})?s$" },
        "google.protobuf.FieldMask" => new JsonObject { ["type"] = "string" },
        "google.protobuf.Empty" => new JsonObject { ["type"] = "object", ["additionalProperties"] = false },
        "google.protobuf.Struct" => new JsonObject { ["type"] = "object" },
        "google.protobuf.Value" => new JsonObject(),
        "google.protobuf.ListValue" => new JsonObject { ["type"] = "array" },
        "google.protobuf.Any" => new JsonObject
        {
            ["type"] = "object",
            ["properties"] = new JsonObject { ["@type"] = new JsonObject { ["type"] = "string" } },
            ["required"] = new JsonArray("@type"),
        },
        "google.protobuf.DoubleValue" or "google.protobuf.FloatValue" => Nullable("number"),
        "google.protobuf.Int32Value" or "google.protobuf.UInt32Value" => Nullable("integer"),
        "google.protobuf.Int64Value" or "google.protobuf.UInt64Value" => Nullable("string"),
        "google.protobuf.BoolValue" => Nullable("boolean"),
        "google.protobuf.StringValue" or "google.protobuf.BytesValue" => Nullable("string"),
        _ => null,
    };

    private static JsonObject Nullable(string type) => new() { ["type"] = new JsonArray(type, "null") };

    private static JsonObject Describe(JsonObject schema, IDescriptor descriptor)
    {
        var comment = Comment(descriptor);
        if (comment.Length > 0 && !schema.ContainsKey("$ref"))
        {
            schema["description"] = comment;
        }
        else if (comment.Length > 0)
        {
            // Draft-07 ignores siblings of $ref; wrap so the description survives in both dialects.
            return new JsonObject { ["description"] = comment, ["allOf"] = new JsonArray(schema) };
        }

        return schema;
    }

    /// <summary>The leading comment of a descriptor, when the descriptors were built with source info.</summary>
    public static string Comment(IDescriptor descriptor)
    {
        var declaration = descriptor switch
        {
            MessageDescriptor m => m.Declaration,
            FieldDescriptor f => f.Declaration,
            EnumDescriptor e => e.Declaration,
            EnumValueDescriptor v => v.Declaration,
            ServiceDescriptor s => s.Declaration,
            MethodDescriptor m => m.Declaration,
            _ => null,
        };
        return string.Join("\n", (declaration?.LeadingComments ?? "").Split('\n').Select(line => line.Trim())).Trim();
    }
}
