using EdgeBridge.Contracts.Dynamic;
using Google.Protobuf;
using Google.Protobuf.Reflection;

namespace EdgeBridge.Contracts;

/// <summary>Reading and setting one field of a message, generated or dynamic alike (cursors, credential checks).</summary>
internal static class MessageFields
{
    /// <summary>The field's value (a scalar, a message, or null when a message field is unset).</summary>
    public static object? Get(IMessage message, FieldDescriptor field)
    {
        if (message is not DynamicMessage dynamic)
        {
            return field.Accessor.GetValue(message);
        }

        if (!dynamic.Layout.TryGetIndex(field.FieldNumber, out var index))
        {
            return null;
        }

        return dynamic.Values[index] ?? (field.FieldType == FieldType.Message || field.IsRepeated ? null : ProtoBinary.DefaultOf(field));
    }

    /// <summary>A copy of <paramref name="message"/> with one singular field set.</summary>
    public static IMessage With(IMessage message, FieldDescriptor field, object value)
    {
        if (message is DynamicMessage)
        {
            var copy = DescriptorCodec.Upstream.ParseBinary(message.Descriptor, message.ToByteArray());
            if (copy.Layout.TryGetIndex(field.FieldNumber, out var index))
            {
                copy.Set(index, value);
            }

            return copy;
        }

        var generated = message.Descriptor.Parser.ParseFrom(message.ToByteString());
        field.Accessor.SetValue(generated, value);
        return generated;
    }
}
