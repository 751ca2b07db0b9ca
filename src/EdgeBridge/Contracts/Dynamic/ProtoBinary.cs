using System.Buffers.Binary;
using System.Text;
using Google.Protobuf;
using Google.Protobuf.Reflection;

namespace EdgeBridge.Contracts.Dynamic;

/// <summary>
/// The protobuf binary encoding of <see cref="DynamicMessage"/>s, with the semantics of generated code: fields in any
/// order, the last value of a singular field wins, a message field seen twice merges, packed and unpacked repeated
/// scalars both read, unknown fields and fields of an unexpected wire type skipped; written in field-number order,
/// defaults of fields without presence left out, repeated scalars packed — byte for byte what generated code writes.
/// </summary>
internal static class ProtoBinary
{
    private const int Varint = 0, Fixed64 = 1, LengthDelimited = 2, StartGroup = 3, EndGroup = 4, Fixed32 = 5;

    public static DynamicMessage Parse(DescriptorCodec codec, MessageDescriptor type, ReadOnlySpan<byte> data)
    {
        var message = new DynamicMessage(codec.LayoutOf(type));
        var reader = new WireReader(data);
        Merge(codec, message, ref reader, depth: 0);
        return message;
    }

    private static void Merge(DescriptorCodec codec, DynamicMessage message, ref WireReader reader, int depth)
    {
        if (depth > codec.Limits.MaxDepth)
        {
            throw new MessageCodecException("", $"The message nests deeper than {codec.Limits.MaxDepth} levels.");
        }

        var layout = message.Layout;
        while (!reader.End)
        {
            var tag = reader.ReadTag();
            var number = (int)(tag >> 3);
            var wire = (int)(tag & 7);
            if (!layout.TryGetIndex(number, out var index))
            {
                reader.Skip(wire, number, 0);
                continue;
            }

            var field = layout.Fields[index];
            if (field.IsMap)
            {
                if (wire != LengthDelimited)
                {
                    reader.Skip(wire, number, 0);
                    continue;
                }

                var entryReader = new WireReader(reader.ReadLengthDelimited());
                var entry = new DynamicMessage(codec.LayoutOf(field.MessageType));
                Merge(codec, entry, ref entryReader, depth + 1);
                var map = message.MapAt(index);
                map.Set(entry.Values[0] ?? DefaultOf(entry.Layout.Fields[0]), entry.Values[1] ?? DefaultValueForMap(codec, entry.Layout.Fields[1]));
                CheckCount(codec, field, map.Entries.Count);
                continue;
            }

            var expected = WireTypeOf(field.FieldType);
            if (field.IsRepeated)
            {
                var list = message.RepeatedAt(index);
                if (wire == LengthDelimited && expected != LengthDelimited)
                {
                    var packed = new WireReader(reader.ReadLengthDelimited());
                    while (!packed.End)
                    {
                        list.Add(ReadScalar(ref packed, field.FieldType));
                        CheckCount(codec, field, list.Count);
                    }
                }
                else if (wire == expected)
                {
                    list.Add(expected == LengthDelimited ? ReadLengthDelimitedValue(codec, field, ref reader, null, depth) : ReadScalar(ref reader, field.FieldType));
                    CheckCount(codec, field, list.Count);
                }
                else
                {
                    reader.Skip(wire, number, 0);
                }

                continue;
            }

            if (wire != expected)
            {
                reader.Skip(wire, number, 0);
                continue;
            }

            message.Set(index, expected == LengthDelimited
                ? ReadLengthDelimitedValue(codec, field, ref reader, message.Values[index] as DynamicMessage, depth)
                : ReadScalar(ref reader, field.FieldType));
        }
    }

    private static void CheckCount(DescriptorCodec codec, FieldDescriptor field, int count)
    {
        if (count > codec.Limits.MaxRepeated)
        {
            throw new MessageCodecException(field.Name, $"More than {codec.Limits.MaxRepeated} elements.");
        }
    }

    private static object ReadLengthDelimitedValue(DescriptorCodec codec, FieldDescriptor field, ref WireReader reader, DynamicMessage? existing, int depth)
    {
        var bytes = reader.ReadLengthDelimited();
        switch (field.FieldType)
        {
            case FieldType.String:
                return Encoding.UTF8.GetString(bytes);
            case FieldType.Bytes:
                return bytes.ToArray();
            default:
                // A message field seen twice merges into what came first, as generated code does.
                var message = existing ?? new DynamicMessage(codec.LayoutOf(field.MessageType));
                var nested = new WireReader(bytes);
                Merge(codec, message, ref nested, depth + 1);
                return message;
        }
    }

    private static object ReadScalar(ref WireReader reader, FieldType type) => type switch
    {
        FieldType.Double => BitConverter.Int64BitsToDouble((long)reader.ReadFixed64()),
        FieldType.Float => BitConverter.Int32BitsToSingle((int)reader.ReadFixed32()),
        FieldType.Int64 => (long)reader.ReadVarint(),
        FieldType.UInt64 => reader.ReadVarint(),
        FieldType.Int32 => (int)reader.ReadVarint(),
        FieldType.Fixed64 => reader.ReadFixed64(),
        FieldType.Fixed32 => reader.ReadFixed32(),
        FieldType.Bool => reader.ReadVarint() != 0,
        FieldType.UInt32 => (uint)reader.ReadVarint(),
        FieldType.Enum => (int)reader.ReadVarint(),
        FieldType.SFixed32 => (int)reader.ReadFixed32(),
        FieldType.SFixed64 => (long)reader.ReadFixed64(),
        FieldType.SInt32 => DecodeZigZag32((uint)reader.ReadVarint()),
        FieldType.SInt64 => DecodeZigZag64(reader.ReadVarint()),
        _ => throw new MessageCodecException("", $"Fields of type {type} are not supported."),
    };

    private static int DecodeZigZag32(uint n) => (int)(n >> 1) ^ -(int)(n & 1);

    private static long DecodeZigZag64(ulong n) => (long)(n >> 1) ^ -(long)(n & 1);

    private static int WireTypeOf(FieldType type) => type switch
    {
        FieldType.Double or FieldType.Fixed64 or FieldType.SFixed64 => Fixed64,
        FieldType.Float or FieldType.Fixed32 or FieldType.SFixed32 => Fixed32,
        FieldType.String or FieldType.Bytes or FieldType.Message => LengthDelimited,
        FieldType.Group => StartGroup,
        _ => Varint,
    };

    /// <summary>The value a field has when it is not set.</summary>
    public static object DefaultOf(FieldDescriptor field) => field.FieldType switch
    {
        FieldType.Double => 0d,
        FieldType.Float => 0f,
        FieldType.Int64 or FieldType.SInt64 or FieldType.SFixed64 => 0L,
        FieldType.UInt64 or FieldType.Fixed64 => 0UL,
        FieldType.Int32 or FieldType.SInt32 or FieldType.SFixed32 or FieldType.Enum => 0,
        FieldType.UInt32 or FieldType.Fixed32 => 0U,
        FieldType.Bool => false,
        FieldType.String => "",
        FieldType.Bytes => Array.Empty<byte>(),
        _ => throw new InvalidOperationException($"{field.FullName} has no scalar default."),
    };

    private static object DefaultValueForMap(DescriptorCodec codec, FieldDescriptor value) =>
        value.FieldType == FieldType.Message ? new DynamicMessage(codec.LayoutOf(value.MessageType)) : DefaultOf(value);

    /// <summary>
    /// Whether a value is its type's default. Generated code compares a singular double with <c>!= 0</c> (so -0 is left
    /// out) but a map entry's with a bitwise comparer (so -0 is written): <paramref name="bitwise"/> says which.
    /// </summary>
    public static bool IsDefault(object value, bool bitwise = false) => value switch
    {
        double d => bitwise ? BitConverter.DoubleToInt64Bits(d) == 0 : d == 0,
        float f => bitwise ? BitConverter.SingleToInt32Bits(f) == 0 : f == 0,
        long l => l == 0,
        ulong u => u == 0,
        int i => i == 0,
        uint u => u == 0,
        bool b => !b,
        string s => s.Length == 0,
        byte[] b => b.Length == 0,
        _ => false,
    };

    public static byte[] Write(DynamicMessage message)
    {
        var bytes = new byte[SizeOf(message)];
        var output = new CodedOutputStream(bytes);
        WriteFields(output, message);
        output.CheckNoSpaceLeft();
        return bytes;
    }

    /// <summary>Whether a singular field is written: with presence when set; without, when not its default.</summary>
    private static bool Writes(FieldDescriptor field, object? value, MessageLayout layout) =>
        value is not null && (field.HasPresence || !IsDefault(value, bitwise: layout.IsWrapper));

    internal static int SizeOf(DynamicMessage message)
    {
        var size = 0;
        var fields = message.Layout.Fields;
        for (var i = 0; i < fields.Length; i++)
        {
            var field = fields[i];
            var value = message.Values[i];
            if (value is null)
            {
                continue;
            }

            var tagSize = CodedOutputStream.ComputeTagSize(field.FieldNumber);
            if (field.IsMap)
            {
                foreach (var entry in ((DynamicMap)value).Entries)
                {
                    var entrySize = EntrySize(field.MessageType, entry);
                    size += tagSize + CodedOutputStream.ComputeLengthSize(entrySize) + entrySize;
                }
            }
            else if (field.IsRepeated)
            {
                var list = (List<object>)value;
                if (list.Count == 0)
                {
                    continue;
                }

                if (IsPacked(field))
                {
                    var data = PackedSize(field.FieldType, list);
                    size += tagSize + CodedOutputStream.ComputeLengthSize(data) + data;
                }
                else
                {
                    foreach (var item in list)
                    {
                        size += tagSize + ValueSize(field.FieldType, item);
                    }
                }
            }
            else if (Writes(field, value, message.Layout))
            {
                size += tagSize + ValueSize(field.FieldType, value);
            }
        }

        message.RememberSize(size);
        return size;
    }

    private static int PackedSize(FieldType type, List<object> values)
    {
        var size = 0;
        foreach (var value in values)
        {
            size += ValueSize(type, value);
        }

        return size;
    }

    private static int EntrySize(MessageDescriptor entryType, KeyValuePair<object, object> entry)
    {
        // MapField writes a key or value only when it is not its default; a message value is always written.
        var size = 0;
        if (!IsDefault(entry.Key))
        {
            size += 1 + ValueSize(entryType.Fields.InFieldNumberOrder()[0].FieldType, entry.Key);
        }

        if (entry.Value is DynamicMessage || !IsDefault(entry.Value, bitwise: true))
        {
            size += 1 + ValueSize(entryType.Fields.InFieldNumberOrder()[1].FieldType, entry.Value);
        }

        return size;
    }

    private static int ValueSize(FieldType type, object value) => type switch
    {
        FieldType.Double or FieldType.Fixed64 or FieldType.SFixed64 => 8,
        FieldType.Float or FieldType.Fixed32 or FieldType.SFixed32 => 4,
        FieldType.Int64 => CodedOutputStream.ComputeInt64Size((long)value),
        FieldType.UInt64 => CodedOutputStream.ComputeUInt64Size((ulong)value),
        FieldType.Int32 => CodedOutputStream.ComputeInt32Size((int)value),
        FieldType.Enum => CodedOutputStream.ComputeEnumSize((int)value),
        FieldType.UInt32 => CodedOutputStream.ComputeUInt32Size((uint)value),
        FieldType.SInt32 => CodedOutputStream.ComputeSInt32Size((int)value),
        FieldType.SInt64 => CodedOutputStream.ComputeSInt64Size((long)value),
        FieldType.Bool => 1,
        FieldType.String => CodedOutputStream.ComputeStringSize((string)value),
        FieldType.Bytes => CodedOutputStream.ComputeLengthSize(((byte[])value).Length) + ((byte[])value).Length,
        FieldType.Message => SizeOf((DynamicMessage)value) is var size ? CodedOutputStream.ComputeLengthSize(size) + size : 0,
        _ => throw new MessageCodecException("", $"Fields of type {type} are not supported."),
    };

    internal static void WriteFields(CodedOutputStream output, DynamicMessage message)
    {
        var fields = message.Layout.Fields;
        for (var i = 0; i < fields.Length; i++)
        {
            var field = fields[i];
            var value = message.Values[i];
            if (value is null)
            {
                continue;
            }

            if (field.IsMap)
            {
                var entryType = field.MessageType;
                var keyType = entryType.Fields.InFieldNumberOrder()[0].FieldType;
                var valueType = entryType.Fields.InFieldNumberOrder()[1].FieldType;
                foreach (var entry in ((DynamicMap)value).Entries)
                {
                    output.WriteTag(field.FieldNumber, WireFormat.WireType.LengthDelimited);
                    output.WriteLength(EntrySize(entryType, entry));
                    if (!IsDefault(entry.Key))
                    {
                        output.WriteTag(1, WireTypeFor(keyType));
                        WriteValue(output, keyType, entry.Key);
                    }

                    if (entry.Value is DynamicMessage || !IsDefault(entry.Value, bitwise: true))
                    {
                        output.WriteTag(2, WireTypeFor(valueType));
                        WriteValue(output, valueType, entry.Value);
                    }
                }
            }
            else if (field.IsRepeated)
            {
                var list = (List<object>)value;
                if (list.Count == 0)
                {
                    continue;
                }

                if (IsPacked(field))
                {
                    output.WriteTag(field.FieldNumber, WireFormat.WireType.LengthDelimited);
                    output.WriteLength(PackedSize(field.FieldType, list));
                    foreach (var item in list)
                    {
                        WriteValue(output, field.FieldType, item);
                    }
                }
                else
                {
                    foreach (var item in list)
                    {
                        output.WriteTag(field.FieldNumber, WireTypeFor(field.FieldType));
                        WriteValue(output, field.FieldType, item);
                    }
                }
            }
            else if (Writes(field, value, message.Layout))
            {
                output.WriteTag(field.FieldNumber, WireTypeFor(field.FieldType));
                WriteValue(output, field.FieldType, value);
            }
        }
    }

    /// <summary>Packed on the wire: proto3's repeated numbers, bools and enums unless <c>[packed = false]</c> (a descriptor may say packed for any type).</summary>
    private static bool IsPacked(FieldDescriptor field) => field.IsPacked && WireTypeOf(field.FieldType) != LengthDelimited;

    private static WireFormat.WireType WireTypeFor(FieldType type) => (WireFormat.WireType)WireTypeOf(type);

    private static void WriteValue(CodedOutputStream output, FieldType type, object value)
    {
        switch (type)
        {
            case FieldType.Double: output.WriteDouble((double)value); break;
            case FieldType.Float: output.WriteFloat((float)value); break;
            case FieldType.Int64: output.WriteInt64((long)value); break;
            case FieldType.UInt64: output.WriteUInt64((ulong)value); break;
            case FieldType.Int32: output.WriteInt32((int)value); break;
            case FieldType.Fixed64: output.WriteFixed64((ulong)value); break;
            case FieldType.Fixed32: output.WriteFixed32((uint)value); break;
            case FieldType.Bool: output.WriteBool((bool)value); break;
            case FieldType.String: output.WriteString((string)value); break;
            case FieldType.Bytes: output.WriteBytes(UnsafeByteOperations.UnsafeWrap((byte[])value)); break;
            case FieldType.UInt32: output.WriteUInt32((uint)value); break;
            case FieldType.Enum: output.WriteEnum((int)value); break;
            case FieldType.SFixed32: output.WriteSFixed32((int)value); break;
            case FieldType.SFixed64: output.WriteSFixed64((long)value); break;
            case FieldType.SInt32: output.WriteSInt32((int)value); break;
            case FieldType.SInt64: output.WriteSInt64((long)value); break;
            case FieldType.Message:
                var message = (DynamicMessage)value;
                output.WriteLength(message.CachedSize);
                WriteFields(output, message);
                break;
            default: throw new MessageCodecException("", $"Fields of type {type} are not supported.");
        }
    }

    /// <summary>A reader of the wire format over a span; every malformation is a <see cref="MessageCodecException"/>.</summary>
    private ref struct WireReader(ReadOnlySpan<byte> data)
    {
        private readonly ReadOnlySpan<byte> _data = data;
        private int _position;

        public readonly bool End => _position >= _data.Length;

        public uint ReadTag()
        {
            var tag = ReadVarint();
            if (tag > uint.MaxValue || tag >> 3 == 0)
            {
                throw new MessageCodecException("", $"Invalid tag {tag} at byte {_position}.");
            }

            return (uint)tag;
        }

        public ulong ReadVarint()
        {
            ulong result = 0;
            for (var shift = 0; shift < 70; shift += 7)
            {
                if (_position >= _data.Length)
                {
                    throw new MessageCodecException("", "The message ends inside a varint.");
                }

                var b = _data[_position++];
                result |= (ulong)(b & 0x7F) << shift;
                if (b < 0x80)
                {
                    return result;
                }
            }

            throw new MessageCodecException("", "A varint is longer than 10 bytes.");
        }

        public uint ReadFixed32() => BinaryPrimitives.ReadUInt32LittleEndian(Take(4));

        public ulong ReadFixed64() => BinaryPrimitives.ReadUInt64LittleEndian(Take(8));

        public ReadOnlySpan<byte> ReadLengthDelimited()
        {
            var length = ReadVarint();
            return length > int.MaxValue ? throw new MessageCodecException("", "A length is negative or too large.") : Take((int)length);
        }

        public void Skip(int wire, int number, int depth)
        {
            switch (wire)
            {
                case Varint: ReadVarint(); break;
                case Fixed64: Take(8); break;
                case LengthDelimited: ReadLengthDelimited(); break;
                case Fixed32: Take(4); break;
                case StartGroup:
                    if (depth > 100)
                    {
                        throw new MessageCodecException("", "Groups nest too deeply.");
                    }

                    while (true)
                    {
                        var tag = ReadTag();
                        if ((tag & 7) == EndGroup)
                        {
                            if (tag >> 3 != number)
                            {
                                throw new MessageCodecException("", "A group ends with the wrong field number.");
                            }

                            return;
                        }

                        Skip((int)(tag & 7), (int)(tag >> 3), depth + 1);
                    }

                default: throw new MessageCodecException("", $"Invalid wire type {wire}.");
            }
        }

        private ReadOnlySpan<byte> Take(int count)
        {
            if (count > _data.Length - _position)
            {
                throw new MessageCodecException("", "The message is truncated.");
            }

            var slice = _data.Slice(_position, count);
            _position += count;
            return slice;
        }
    }
}
