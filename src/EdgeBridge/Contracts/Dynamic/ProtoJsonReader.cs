using System.Globalization;
using System.Text.Json;
using Google.Protobuf;
using Google.Protobuf.Reflection;

namespace EdgeBridge.Contracts.Dynamic;

/// <summary>
/// Reads proto3 JSON into a <see cref="DynamicMessage"/> as Google.Protobuf's <c>JsonParser</c> does: fields by JSON
/// name or proto name, unknown fields refused, null clearing a field (but meaning NULL_VALUE for Value and NullValue),
/// numbers as JSON numbers or strings (integers must be integral and in range), enums by name or number, bytes in
/// base64, one member per oneof, and the well-known types in their own forms. Every refusal names the field's path.
/// </summary>
internal static class ProtoJsonReader
{
    private static readonly JsonParser s_wellKnown = new(JsonParser.Settings.Default);

    private const NumberStyles NumericStyles = NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint | NumberStyles.AllowExponent;

    public static DynamicMessage Parse(DescriptorCodec codec, MessageDescriptor type, ReadOnlySpan<byte> json)
    {
        JsonDocument document;
        try
        {
            // The document's own depth bound is a backstop for arrays in Struct values; messages are counted below.
            document = JsonDocument.Parse(json.ToArray(), new JsonDocumentOptions { MaxDepth = codec.Limits.MaxDepth * 2 + 2 });
        }
        catch (JsonException ex)
        {
            throw new MessageCodecException("", "The body is not JSON: " + ex.Message);
        }

        using (document)
        {
            return ReadMessage(codec, type, document.RootElement, depth: 0);
        }
    }

    private static DynamicMessage ReadMessage(DescriptorCodec codec, MessageDescriptor type, JsonElement json, int depth, bool skipTypeUrl = false)
    {
        if (depth > codec.Limits.MaxDepth)
        {
            throw new MessageCodecException("", $"The message nests deeper than {codec.Limits.MaxDepth} levels.");
        }

        if (WellKnownTypes.IsWellKnown(type) && TryReadWellKnown(codec, type, json, depth) is { } special)
        {
            return special;
        }

        if (json.ValueKind != JsonValueKind.Object)
        {
            throw new MessageCodecException("", $"Expected an object for {type.FullName}, not {Describe(json)}.");
        }

        var message = new DynamicMessage(codec.LayoutOf(type));
        var layout = message.Layout;
        var seenOneofs = 0UL;
        HashSet<int>? manyOneofs = null;
        foreach (var property in json.EnumerateObject())
        {
            if (skipTypeUrl && property.NameEquals("@type"u8))
            {
                continue;
            }

            if (!layout.TryGetIndex(property.Name, out var index))
            {
                throw new MessageCodecException(property.Name, $"{type.FullName} has no field '{property.Name}'.");
            }

            var field = layout.Fields[index];
            try
            {
                if (layout.OneofOf[index] is var oneof and >= 0)
                {
                    var seen = oneof < 64 ? (seenOneofs & (1UL << oneof)) != 0 : !(manyOneofs ??= []).Add(oneof);
                    seenOneofs |= oneof < 64 ? 1UL << oneof : 0;
                    if (seen)
                    {
                        throw new MessageCodecException("", $"Multiple values specified for oneof {field.ContainingOneof.Name}.");
                    }
                }

                ReadField(codec, message, index, field, property.Value, depth);
            }
            catch (MessageCodecException ex)
            {
                throw Within(field.JsonName, ex);
            }
        }

        return message;
    }

    private static void ReadField(DescriptorCodec codec, DynamicMessage message, int index, FieldDescriptor field, JsonElement value, int depth)
    {
        if (value.ValueKind == JsonValueKind.Null && (field.IsMap || field.IsRepeated || !(IsValue(field) || IsNullValue(field))))
        {
            message.Values[index] = null;
            return;
        }

        if (field.IsMap)
        {
            if (value.ValueKind != JsonValueKind.Object)
            {
                throw new MessageCodecException("", $"Expected an object for a map, not {Describe(value)}.");
            }

            var map = message.MapAt(index);
            var keyField = field.MessageType.Fields.InFieldNumberOrder()[0];
            var valueField = field.MessageType.Fields.InFieldNumberOrder()[1];
            foreach (var entry in value.EnumerateObject())
            {
                try
                {
                    var item = ReadSingle(codec, valueField, entry.Value, depth + 1)
                        ?? throw new MessageCodecException("", "Map values must not be null.");
                    map.Set(ReadMapKey(keyField, entry.Name), item);
                }
                catch (MessageCodecException ex)
                {
                    throw Within("[" + JsonSerializer.Serialize(entry.Name) + "]", ex);
                }

                if (map.Entries.Count > codec.Limits.MaxRepeated)
                {
                    throw new MessageCodecException("", $"More than {codec.Limits.MaxRepeated} entries.");
                }
            }

            return;
        }

        if (field.IsRepeated)
        {
            if (value.ValueKind != JsonValueKind.Array)
            {
                throw new MessageCodecException("", $"Expected an array for a repeated field, not {Describe(value)}.");
            }

            if (value.GetArrayLength() > codec.Limits.MaxRepeated)
            {
                throw new MessageCodecException("", $"More than {codec.Limits.MaxRepeated} elements.");
            }

            var list = message.RepeatedAt(index);
            var position = 0;
            foreach (var element in value.EnumerateArray())
            {
                try
                {
                    list.Add(ReadSingle(codec, field, element, depth + 1)
                        ?? throw new MessageCodecException("", "Repeated field elements cannot be null."));
                }
                catch (MessageCodecException ex)
                {
                    throw Within("[" + position.ToString(CultureInfo.InvariantCulture) + "]", ex);
                }

                position++;
            }

            return;
        }

        message.Set(index, ReadSingle(codec, field, value, depth + 1));
    }

    /// <summary>One value of <paramref name="field"/>'s type; null for a JSON null that means "not set".</summary>
    private static object? ReadSingle(DescriptorCodec codec, FieldDescriptor field, JsonElement value, int depth)
    {
        if (value.ValueKind == JsonValueKind.Null)
        {
            if (IsValue(field))
            {
                return ReadMessage(codec, field.MessageType, value, depth);
            }

            return IsNullValue(field) ? 0 : null;
        }

        if (field.FieldType == FieldType.Message)
        {
            if (WellKnownTypes.IsWrapper(field.MessageType))
            {
                // A wrapper is written as its value: parse that, then wrap it.
                var wrapper = new DynamicMessage(codec.LayoutOf(field.MessageType));
                wrapper.Values[0] = ReadScalar(wrapper.Layout.Fields[0], value);
                return wrapper;
            }

            return ReadMessage(codec, field.MessageType, value, depth);
        }

        return ReadScalar(field, value);
    }

    private static object ReadScalar(FieldDescriptor field, JsonElement value)
    {
        switch (value.ValueKind)
        {
            case JsonValueKind.True or JsonValueKind.False when field.FieldType == FieldType.Bool:
                return value.ValueKind == JsonValueKind.True;
            case JsonValueKind.String when field.FieldType == FieldType.Enum:
                var name = value.GetString()!;
                return field.EnumType.FindValueByName(name)?.Number
                    ?? throw new MessageCodecException("", $"'{name}' is not a value of {field.EnumType.FullName}.");
            case JsonValueKind.String:
                return ReadString(field, value.GetString()!);
            case JsonValueKind.Number:
                return ReadNumber(field, value.GetDouble());
            default:
                throw new MessageCodecException("", $"Expected {Expected(field)}, not {Describe(value)}.");
        }
    }

    private static object ReadString(FieldDescriptor field, string text)
    {
        switch (field.FieldType)
        {
            case FieldType.String:
                return text;
            case FieldType.Bytes:
                try
                {
                    return Convert.FromBase64String(text);
                }
                catch (FormatException)
                {
                    throw new MessageCodecException("", "Expected base64 for a bytes field.");
                }

            case FieldType.Int32 or FieldType.SInt32 or FieldType.SFixed32:
                return Numeric(text, static (t, s, c) => int.Parse(t, s, c));
            case FieldType.UInt32 or FieldType.Fixed32:
                return Numeric(text, static (t, s, c) => uint.Parse(t, s, c));
            case FieldType.Int64 or FieldType.SInt64 or FieldType.SFixed64:
                return Numeric(text, static (t, s, c) => long.Parse(t, s, c));
            case FieldType.UInt64 or FieldType.Fixed64:
                return Numeric(text, static (t, s, c) => ulong.Parse(t, s, c));
            case FieldType.Double:
                var d = Numeric(text, static (t, s, c) => double.Parse(t, s, c));
                CheckSpecial(text, double.IsPositiveInfinity(d), double.IsNegativeInfinity(d), double.IsNaN(d));
                return d;
            case FieldType.Float:
                var f = Numeric(text, static (t, s, c) => float.Parse(t, s, c));
                CheckSpecial(text, float.IsPositiveInfinity(f), float.IsNegativeInfinity(f), float.IsNaN(f));
                return f;
            default:
                throw new MessageCodecException("", $"Expected {Expected(field)}, not a string.");
        }
    }

    private static object ReadNumber(FieldDescriptor field, double value)
    {
        try
        {
            checked
            {
                switch (field.FieldType)
                {
                    case FieldType.Int32 or FieldType.SInt32 or FieldType.SFixed32:
                        return (int)Integral(value);
                    case FieldType.UInt32 or FieldType.Fixed32:
                        return (uint)Integral(value);
                    case FieldType.Int64 or FieldType.SInt64 or FieldType.SFixed64:
                        return (long)Integral(value);
                    case FieldType.UInt64 or FieldType.Fixed64:
                        return (ulong)Integral(value);
                    case FieldType.Enum:
                        return (int)Integral(value);
                    case FieldType.Double:
                        return value;
                    case FieldType.Float:
                        if (double.IsNaN(value))
                        {
                            return float.NaN;
                        }

                        var converted = (float)value;
                        return float.IsInfinity(converted) && !double.IsInfinity(value)
                            ? throw new MessageCodecException("", $"{value.ToString(CultureInfo.InvariantCulture)} is out of range for a float.")
                            : converted;
                    default:
                        throw new MessageCodecException("", $"Expected {Expected(field)}, not a number.");
                }
            }
        }
        catch (OverflowException)
        {
            throw new MessageCodecException("", $"{value.ToString(CultureInfo.InvariantCulture)} is out of range for {field.FieldType.ToString().ToLowerInvariant()}.");
        }
    }

    private static double Integral(double value) => double.IsFinite(value) && value == Math.Floor(value)
        ? value
        : throw new MessageCodecException("", $"{value.ToString(CultureInfo.InvariantCulture)} is not an integer.");

    private static object ReadMapKey(FieldDescriptor key, string text) => key.FieldType switch
    {
        FieldType.Bool => text switch
        {
            "true" => true,
            "false" => false,
            _ => throw new MessageCodecException("", $"'{text}' is not a bool map key (true or false)."),
        },
        FieldType.String => text,
        _ => ReadString(key, text),
    };

    /// <summary>Numbers in strings as JsonParser takes them: no leading '+', no leading zeros, decimal point and exponent allowed.</summary>
    private static T Numeric<T>(string text, Func<string, NumberStyles, IFormatProvider, T> parse)
    {
        if (text.StartsWith('+')
            || text.Length > 1 && text[0] == '0' && char.IsAsciiDigit(text[1])
            || text.Length > 2 && text.StartsWith("-0", StringComparison.Ordinal) && char.IsAsciiDigit(text[2]))
        {
            throw new MessageCodecException("", $"'{text}' is not a number in proto3 JSON.");
        }

        try
        {
            return parse(text, NumericStyles, CultureInfo.InvariantCulture);
        }
        catch (FormatException)
        {
            throw new MessageCodecException("", $"'{text}' is not a number of this field's type.");
        }
        catch (OverflowException)
        {
            throw new MessageCodecException("", $"'{text}' is out of range.");
        }
    }

    private static void CheckSpecial(string text, bool positiveInfinity, bool negativeInfinity, bool nan)
    {
        if (positiveInfinity && text != "Infinity" || negativeInfinity && text != "-Infinity" || nan && text != "NaN")
        {
            throw new MessageCodecException("", $"'{text}' is not a number in proto3 JSON.");
        }
    }

    private static DynamicMessage? TryReadWellKnown(DescriptorCodec codec, MessageDescriptor type, JsonElement json, int depth)
    {
        if (type.FullName == WellKnownTypes.Any)
        {
            return ReadAny(codec, type, json, depth);
        }

        if (!WellKnownTypes.Special.TryGetValue(type.FullName, out var generated))
        {
            return null;
        }

        IMessage parsed;
        try
        {
            parsed = s_wellKnown.Parse(json.GetRawText(), generated);
        }
        catch (Exception ex) when (ex is InvalidProtocolBufferException or InvalidJsonException or FormatException or InvalidOperationException)
        {
            throw new MessageCodecException("", ex.Message);
        }

        return codec.ParseBinary(type, parsed.ToByteArray());
    }

    private static DynamicMessage ReadAny(DescriptorCodec codec, MessageDescriptor anyType, JsonElement json, int depth)
    {
        if (json.ValueKind != JsonValueKind.Object)
        {
            throw new MessageCodecException("", $"Expected an object for google.protobuf.Any, not {Describe(json)}.");
        }

        var any = new DynamicMessage(codec.LayoutOf(anyType));
        if (!json.TryGetProperty("@type"u8, out var typeUrl))
        {
            // As JsonParser: an object without @type is an empty Any.
            return any;
        }

        if (typeUrl.ValueKind != JsonValueKind.String)
        {
            throw Within("@type", new MessageCodecException("", "Expected a string."));
        }

        var url = typeUrl.GetString()!;
        var name = url.LastIndexOf('/') is var slash and >= 0 ? url[(slash + 1)..] : "";
        if (name.Length == 0)
        {
            throw Within("@type", new MessageCodecException("", $"'{url}' is not a type URL (…/package.Type)."));
        }

        var type = codec.FindType(name)
            ?? throw Within("@type", new MessageCodecException("", $"'{name}' is not a type of the loaded contracts."));
        DynamicMessage body;
        if (WellKnownTypes.IsWellKnown(type))
        {
            var others = json.EnumerateObject().Count(p => !p.NameEquals("@type"u8) && !p.NameEquals("value"u8));
            if (!json.TryGetProperty("value"u8, out var value) || others > 0)
            {
                throw new MessageCodecException("", $"An Any of the well-known type {name} has exactly the properties '@type' and 'value'.");
            }

            try
            {
                body = ReadMessage(codec, type, value, depth + 1);
            }
            catch (MessageCodecException ex)
            {
                throw Within("value", ex);
            }
        }
        else
        {
            body = ReadMessage(codec, type, json, depth + 1, skipTypeUrl: true);
        }

        any.Values[0] = url;
        any.Values[1] = ProtoBinary.Write(body);
        return any;
    }

    private static bool IsValue(FieldDescriptor field) => field.FieldType == FieldType.Message && field.MessageType.FullName == WellKnownTypes.Value;

    private static bool IsNullValue(FieldDescriptor field) => field.FieldType == FieldType.Enum && field.EnumType.FullName == WellKnownTypes.NullValue;

    private static MessageCodecException Within(string segment, MessageCodecException inner) => new(
        inner.Path.Length == 0 ? segment : inner.Path[0] == '[' ? segment + inner.Path : segment + "." + inner.Path,
        inner.Problem);

    private static string Expected(FieldDescriptor field) => field.FieldType switch
    {
        FieldType.Bool => "true or false",
        FieldType.String => "a string",
        FieldType.Bytes => "a base64 string",
        FieldType.Enum => $"a name or number of {field.EnumType.FullName}",
        FieldType.Int64 or FieldType.SInt64 or FieldType.SFixed64 or FieldType.UInt64 or FieldType.Fixed64 => "an integer (a string or a number)",
        FieldType.Double or FieldType.Float => "a number",
        _ => "an integer",
    };

    private static string Describe(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a bool",
        _ => "null",
    };
}
