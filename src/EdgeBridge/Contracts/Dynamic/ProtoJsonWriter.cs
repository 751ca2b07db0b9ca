using System.Globalization;
using System.Text.Json;
using Google.Protobuf;
using Google.Protobuf.Reflection;

namespace EdgeBridge.Contracts.Dynamic;

/// <summary>
/// Writes a <see cref="DynamicMessage"/> as Google.Protobuf's <c>JsonFormatter</c> does with default values on: fields
/// in number order by JSON name, fields without presence always (their defaults too), fields with presence when set,
/// 64-bit integers as strings, floating point in round-trip form ("NaN" and "Infinity" quoted), enums by name (the
/// number when unknown), bytes in base64, and the well-known types in their own forms.
/// </summary>
internal static class ProtoJsonWriter
{
    private static readonly JsonFormatter s_wellKnown = new(JsonFormatter.Settings.Default);

    public static void Write(DescriptorCodec codec, Utf8JsonWriter writer, DynamicMessage message)
    {
        if (WellKnownTypes.IsWellKnown(message.Descriptor) && TryWriteWellKnown(codec, writer, message))
        {
            return;
        }

        writer.WriteStartObject();
        WriteFields(codec, writer, message);
        writer.WriteEndObject();
    }

    private static void WriteFields(DescriptorCodec codec, Utf8JsonWriter writer, DynamicMessage message)
    {
        var layout = message.Layout;
        for (var i = 0; i < layout.Fields.Length; i++)
        {
            var field = layout.Fields[i];
            var value = message.Values[i];
            if (value is null && field.HasPresence)
            {
                continue;
            }

            writer.WritePropertyName(layout.JsonNames[i]);
            if (field.IsMap)
            {
                WriteMap(codec, writer, field, value as DynamicMap);
            }
            else if (field.IsRepeated)
            {
                writer.WriteStartArray();
                if (value is List<object> list)
                {
                    foreach (var item in list)
                    {
                        WriteValue(codec, writer, field, item);
                    }
                }

                writer.WriteEndArray();
            }
            else
            {
                WriteValue(codec, writer, field, value ?? ProtoBinary.DefaultOf(field));
            }
        }
    }

    private static void WriteMap(DescriptorCodec codec, Utf8JsonWriter writer, FieldDescriptor field, DynamicMap? map)
    {
        writer.WriteStartObject();
        if (map is not null)
        {
            var valueField = field.MessageType.Fields.InFieldNumberOrder()[1];
            Span<byte> digits = stackalloc byte[24];
            foreach (var (key, value) in map.Entries)
            {
                switch (key)
                {
                    case string text:
                        writer.WritePropertyName(text);
                        break;
                    case bool flag:
                        writer.WritePropertyName(flag ? "true"u8 : "false"u8);
                        break;
                    default:
                        ((IUtf8SpanFormattable)key).TryFormat(digits, out var length, "d", CultureInfo.InvariantCulture);
                        writer.WritePropertyName(digits[..length]);
                        break;
                }

                WriteValue(codec, writer, valueField, value);
            }
        }

        writer.WriteEndObject();
    }

    private static void WriteValue(DescriptorCodec codec, Utf8JsonWriter writer, FieldDescriptor field, object value)
    {
        switch (value)
        {
            case DynamicMessage message:
                Write(codec, writer, message);
                return;
            case int number when field.FieldType == FieldType.Enum:
                if (field.EnumType.FullName == WellKnownTypes.NullValue)
                {
                    writer.WriteNullValue();
                }
                else if (field.EnumType.FindValueByNumber(number) is { } known)
                {
                    writer.WriteStringValue(known.Name);
                }
                else
                {
                    writer.WriteNumberValue(number);
                }

                return;
            default:
                WriteScalar(writer, value);
                return;
        }
    }

    private static void WriteScalar(Utf8JsonWriter writer, object value)
    {
        Span<byte> text = stackalloc byte[32];
        switch (value)
        {
            case int number:
                writer.WriteNumberValue(number);
                break;
            case uint number:
                writer.WriteNumberValue(number);
                break;
            case long number:
                number.TryFormat(text, out var written, "d", CultureInfo.InvariantCulture);
                writer.WriteStringValue(text[..written]);
                break;
            case ulong number:
                number.TryFormat(text, out written, "d", CultureInfo.InvariantCulture);
                writer.WriteStringValue(text[..written]);
                break;
            case double number:
                WriteFloatingPoint(writer, number, double.IsFinite(number), text);
                break;
            case float number:
                WriteFloatingPoint(writer, number, float.IsFinite(number), text);
                break;
            case bool flag:
                writer.WriteBooleanValue(flag);
                break;
            case string s:
                writer.WriteStringValue(s);
                break;
            case byte[] bytes:
                writer.WriteBase64StringValue(bytes);
                break;
            default:
                throw new MessageCodecException("", $"A value of type {value.GetType().Name} has no JSON form.");
        }
    }

    /// <summary>As JsonFormatter: the round-trip ("r") form, with NaN and the infinities as strings.</summary>
    private static void WriteFloatingPoint<T>(Utf8JsonWriter writer, T number, bool finite, Span<byte> text)
        where T : IUtf8SpanFormattable
    {
        number.TryFormat(text, out var written, "R", CultureInfo.InvariantCulture);
        if (finite)
        {
            // JsonFormatter's "1E+20" as the edge writes it after its compact re-write (ProtoJson.FormatUtf8): "1e+20".
            if (text[..written].IndexOf((byte)'E') is var exponent and >= 0)
            {
                text[exponent] = (byte)'e';
            }

            writer.WriteRawValue(text[..written], skipInputValidation: true);
        }
        else
        {
            writer.WriteStringValue(text[..written]);
        }
    }

    private static bool TryWriteWellKnown(DescriptorCodec codec, Utf8JsonWriter writer, DynamicMessage message)
    {
        var type = message.Descriptor;
        if (WellKnownTypes.IsWrapper(type))
        {
            WriteValue(codec, writer, message.Layout.Fields[0], message.Values[0] ?? ProtoBinary.DefaultOf(message.Layout.Fields[0]));
            return true;
        }

        switch (type.FullName)
        {
            case WellKnownTypes.Timestamp:
            case WellKnownTypes.Duration:
            case WellKnownTypes.FieldMask:
                // One JSON string; its grammar (and what it refuses: out-of-range seconds, unnormalized nanos) is the library's.
                var generated = WellKnownTypes.Special[type.FullName].Parser.ParseFrom(ProtoBinary.Write(message));
                string text;
                try
                {
                    text = s_wellKnown.Format(generated);
                }
                catch (InvalidOperationException ex)
                {
                    throw new MessageCodecException("", ex.Message);
                }

                writer.WriteStringValue(text.AsSpan(1, text.Length - 2));
                return true;
            case WellKnownTypes.Struct:
                WriteStruct(codec, writer, message);
                return true;
            case WellKnownTypes.ListValue:
                WriteListValue(codec, writer, message);
                return true;
            case WellKnownTypes.Value:
                WriteStructValue(codec, writer, message);
                return true;
            case WellKnownTypes.Any:
                WriteAny(codec, writer, message);
                return true;
            default:
                return false;
        }
    }

    private static void WriteStruct(DescriptorCodec codec, Utf8JsonWriter writer, DynamicMessage message)
    {
        writer.WriteStartObject();
        if (message.Values[0] is DynamicMap fields)
        {
            foreach (var (key, value) in fields.Entries)
            {
                if (key is "")
                {
                    throw new MessageCodecException("", "Struct fields cannot have an empty key or a null value.");
                }

                writer.WritePropertyName((string)key);
                WriteStructValue(codec, writer, (DynamicMessage)value);
            }
        }

        writer.WriteEndObject();
    }

    private static void WriteListValue(DescriptorCodec codec, Utf8JsonWriter writer, DynamicMessage message)
    {
        writer.WriteStartArray();
        if (message.Values[0] is List<object> values)
        {
            foreach (var value in values)
            {
                WriteStructValue(codec, writer, (DynamicMessage)value);
            }
        }

        writer.WriteEndArray();
    }

    private static void WriteStructValue(DescriptorCodec codec, Utf8JsonWriter writer, DynamicMessage value)
    {
        // The kind oneof: null_value 1, number_value 2, string_value 3, bool_value 4, struct_value 5, list_value 6.
        for (var i = 0; i < value.Values.Length; i++)
        {
            switch (value.Values[i])
            {
                case null:
                    continue;
                case int:
                    writer.WriteNullValue();
                    return;
                case DynamicMessage nested:
                    Write(codec, writer, nested);
                    return;
                case var scalar:
                    WriteScalar(writer, scalar);
                    return;
            }
        }

        throw new MessageCodecException("", "Value message must contain a value for the oneof.");
    }

    private static void WriteAny(DescriptorCodec codec, Utf8JsonWriter writer, DynamicMessage any)
    {
        var typeUrl = any.Values[0] as string ?? "";
        var data = any.Values[1] as byte[] ?? [];
        var name = typeUrl.LastIndexOf('/') is var slash and >= 0 ? typeUrl[(slash + 1)..] : "";
        var type = codec.FindType(name)
            ?? throw new MessageCodecException("", $"Type registry has no descriptor for type name '{name}'");
        var packed = codec.ParseBinary(type, data);
        writer.WriteStartObject();
        writer.WriteString("@type"u8, typeUrl);
        if (WellKnownTypes.IsWellKnown(type))
        {
            writer.WritePropertyName("value"u8);
            Write(codec, writer, packed);
        }
        else
        {
            WriteFields(codec, writer, packed);
        }

        writer.WriteEndObject();
    }
}
