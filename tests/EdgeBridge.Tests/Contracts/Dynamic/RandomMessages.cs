using System.Collections;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using Google.Protobuf.WellKnownTypes;

namespace EdgeBridge.Tests.Contracts.Dynamic;

/// <summary>
/// Fills generated messages with random values through their descriptors: every field kind, the edges of every
/// numeric range, NaN and the infinities, -0, unknown enum numbers, strings that need escaping, and well-known
/// types with values their JSON forms accept. Seeded, so a failure names the seed that reproduces it.
/// </summary>
internal sealed class RandomMessages(int seed, IReadOnlyList<MessageDescriptor> anyTypes)
{
    private static readonly string[] s_strings =
    [
        "", "plain", "ünïcödé", "emoji 📈 and more 🚀", "quote \" backslash \\ slash /", "<script>&'</script>", "tab\tnew\nline\r",
        "\u0000\u001f control", "soft\u00adhyphen", "line\u2028separator", "bom\ufeff", "zero\u200bwidth", "日本語", "\u007f del",
    ];

    private static readonly double[] s_doubles =
    [
        0, -0.0, 1, -1, 0.1, 1.5, 1e300, -1e-300, double.Epsilon, double.MaxValue, double.MinValue, double.NaN,
        double.PositiveInfinity, double.NegativeInfinity, 123456789.125, 1e21, 1e-7,
    ];

    private static readonly float[] s_floats =
    [
        0, -0f, 1, 0.1f, 3.4028235e38f, -1.17549435e-38f, float.Epsilon, float.NaN, float.PositiveInfinity, float.NegativeInfinity, 16777217f,
    ];

    private readonly Random _random = new(seed);

    public T Next<T>(int depth = 0)
        where T : IMessage, new()
    {
        var message = new T();
        Fill(message, depth);
        return message;
    }

    public static IMessage New(MessageDescriptor type) => (IMessage)Activator.CreateInstance(type.ClrType)!;

    public IMessage Next(MessageDescriptor type, int depth = 0)
    {
        var message = New(type);
        Fill(message, depth);
        return message;
    }

    private void Fill(IMessage message, int depth)
    {
        foreach (var field in message.Descriptor.Fields.InFieldNumberOrder())
        {
            // Fewer fields the deeper it goes, so that recursive types end.
            if (_random.NextDouble() < 0.35 + depth * 0.2)
            {
                continue;
            }

            var accessor = field.Accessor;
            if (field.IsMap)
            {
                var map = (IDictionary)accessor.GetValue(message);
                var key = field.MessageType.FindFieldByNumber(1);
                var value = field.MessageType.FindFieldByNumber(2);
                for (var i = _random.Next(4); i > 0; i--)
                {
                    map[Value(key, depth)] = Value(value, depth + 1);
                }
            }
            else if (field.IsRepeated)
            {
                var list = (IList)accessor.GetValue(message);
                for (var i = _random.Next(4); i > 0; i--)
                {
                    list.Add(Value(field, depth + 1));
                }
            }
            else if (field.RealContainingOneof is { } oneof && oneof.Accessor.GetCaseFieldDescriptor(message) is not null)
            {
                // One member of a oneof at most: the first one drawn stays.
            }
            else
            {
                accessor.SetValue(message, Value(field, depth + 1));
            }
        }
    }

    private object Value(FieldDescriptor field, int depth)
    {
        switch (field.FieldType)
        {
            case FieldType.Double: return Pick(s_doubles, () => (_random.NextDouble() - 0.5) * Math.Pow(10, _random.Next(-10, 20)));
            case FieldType.Float: return Pick(s_floats, () => (float)((_random.NextDouble() - 0.5) * Math.Pow(10, _random.Next(-5, 10))));
            case FieldType.Int32 or FieldType.SInt32 or FieldType.SFixed32: return Pick([0, 1, -1, int.MaxValue, int.MinValue], () => _random.Next(int.MinValue, int.MaxValue));
            case FieldType.UInt32 or FieldType.Fixed32: return Pick([0u, 1u, uint.MaxValue], () => (uint)_random.NextInt64(0, uint.MaxValue));
            case FieldType.Int64 or FieldType.SInt64 or FieldType.SFixed64: return Pick([0L, -1L, long.MaxValue, long.MinValue, 9007199254740993L], () => _random.NextInt64(long.MinValue, long.MaxValue));
            case FieldType.UInt64 or FieldType.Fixed64: return Pick([0UL, ulong.MaxValue, 18446744073709551615UL - 1], () => (ulong)_random.NextInt64(0, long.MaxValue) * 2);
            case FieldType.Bool: return _random.Next(2) == 1;
            case FieldType.String: return Pick(s_strings, () => Guid.NewGuid().ToString("N")[.._random.Next(1, 32)]);
            case FieldType.Bytes:
                var bytes = new byte[_random.Next(0, 20)];
                _random.NextBytes(bytes);
                return ByteString.CopyFrom(bytes);
            case FieldType.Enum:
                // Unknown numbers too: proto3 enums are open, and JSON writes them as numbers.
                var values = field.EnumType.Values;
                var number = _random.Next(5) == 0 ? 7 + _random.Next(100) : values[_random.Next(values.Count)].Number;
                return System.Enum.ToObject(field.EnumType.ClrType, number);
            default:
                // Generated code holds a wrapper as its nullable value (int?), not as a message.
                return field.MessageType.FullName.StartsWith("google.protobuf.", StringComparison.Ordinal) && field.MessageType.Name.EndsWith("Value", StringComparison.Ordinal)
                    && field.MessageType.Name is not ("Value" or "ListValue")
                    ? Value(field.MessageType.FindFieldByNumber(1), depth)
                    : Message(field.MessageType, depth);
        }
    }

    private IMessage Message(MessageDescriptor type, int depth)
    {
        switch (type.FullName)
        {
            case "google.protobuf.Timestamp":
                return new Timestamp { Seconds = _random.NextInt64(-62135596800, 253402300799), Nanos = Pick([0, 1_000_000, 123_000, 999_999_999], () => _random.Next(0, 999_999_999)) };
            case "google.protobuf.Duration":
                var seconds = _random.NextInt64(-315576000000, 315576000000);
                var nanos = _random.Next(0, 999_999_999);
                return new Duration { Seconds = seconds, Nanos = seconds < 0 ? -nanos : seconds > 0 ? nanos : Pick([nanos, -nanos], () => 0) };
            case "google.protobuf.FieldMask":
                var mask = new FieldMask();
                for (var i = _random.Next(3); i > 0; i--)
                {
                    mask.Paths.Add(Pick(["id", "snake_case.field", "a.b_c.d"], () => "label"));
                }

                return mask;
            case "google.protobuf.Struct":
                return Struct(depth);
            case "google.protobuf.Value":
                return StructValue(depth);
            case "google.protobuf.ListValue":
                return ListValue(depth);
            case "google.protobuf.Any":
                var packed = anyTypes[_random.Next(anyTypes.Count)];
                return Any.Pack(packed.FullName == "google.protobuf.Timestamp" ? Message(packed, depth + 1) : Next(packed, depth + 2));
            default:
                return depth < 4 ? Next(type, depth) : New(type);
        }
    }

    private Struct Struct(int depth)
    {
        var value = new Struct();
        for (var i = _random.Next(3); i > 0; i--)
        {
            var key = Pick(s_strings, () => "k" + i);
            value.Fields[key.Length > 0 ? key : "k"] = StructValue(depth + 1);
        }

        return value;
    }

    private ListValue ListValue(int depth)
    {
        var list = new ListValue();
        for (var i = _random.Next(3); i > 0; i--)
        {
            list.Values.Add(StructValue(depth + 1));
        }

        return list;
    }

    private Value StructValue(int depth) => (depth > 3 ? _random.Next(4) : _random.Next(6)) switch
    {
        0 => Google.Protobuf.WellKnownTypes.Value.ForNull(),
        // Finite: a NaN number is written "NaN", which reads back as a string — JsonFormatter's own asymmetry.
        1 => Google.Protobuf.WellKnownTypes.Value.ForNumber(Pick([0, -1.5, 1e300, 42], () => _random.NextDouble())),
        2 => Google.Protobuf.WellKnownTypes.Value.ForString(Pick(s_strings, () => "s")),
        3 => Google.Protobuf.WellKnownTypes.Value.ForBool(_random.Next(2) == 1),
        4 => Google.Protobuf.WellKnownTypes.Value.ForStruct(Struct(depth)),
        _ => Google.Protobuf.WellKnownTypes.Value.ForList([.. ListValue(depth).Values]),
    };

    private T Pick<T>(T[] edges, Func<T> otherwise) => _random.Next(3) == 0 ? edges[_random.Next(edges.Length)] : otherwise();
}
