using System.Buffers;
using System.Runtime.CompilerServices;
using System.Collections.Frozen;
using System.Text.Json;
using Google.Protobuf.Reflection;

namespace EdgeBridge.Contracts.Dynamic;

/// <summary>Bounds on what a message may make the codec do: a hostile message must not cost more than these.</summary>
internal sealed class MessageCodecLimits
{
    /// <summary>How deeply messages may nest (a message inside a message is one level).</summary>
    public int MaxDepth { get; init; } = 64;

    /// <summary>How many elements one repeated or map field may hold.</summary>
    public int MaxRepeated { get; init; } = 100_000;
}

/// <summary>
/// Proto3 JSON and binary for message types known only by their descriptors (a descriptor set, reflection): the
/// mapping of Google.Protobuf's generated <c>JsonFormatter</c> (with default values, as <see cref="ProtoJson"/>) and
/// <c>JsonParser</c>, written compactly with the edge's escaping — for a type with generated code, the same bytes
/// <see cref="ProtoJson.FormatUtf8"/> writes. Thread-safe; one per set of loaded contracts.
/// </summary>
internal sealed class DescriptorCodec
{
    private static readonly JsonWriterOptions s_writerOptions = new() { Encoder = MessageLayout.Encoder, SkipValidation = true };

    // Per descriptor object, for as long as it lives: a reloaded contract's old descriptors take their layouts with them.
    private static readonly ConditionalWeakTable<MessageDescriptor, MessageLayout> s_layouts = [];
    private readonly FrozenDictionary<string, MessageDescriptor> _types;

    public DescriptorCodec(IEnumerable<FileDescriptor> files, MessageCodecLimits? limits = null)
    {
        Limits = limits ?? new MessageCodecLimits();
        var types = new Dictionary<string, MessageDescriptor>(StringComparer.Ordinal);
        foreach (var file in Closure(files))
        {
            foreach (var type in file.MessageTypes)
            {
                AddWithNested(types, type);
            }
        }

        _types = types.ToFrozenDictionary(StringComparer.Ordinal);
    }

    public MessageCodecLimits Limits { get; }

    /// <summary>A message type of the loaded files by its full name (for <c>google.protobuf.Any</c>); null when unknown.</summary>
    public MessageDescriptor? FindType(string fullName) => _types.GetValueOrDefault(fullName);

    /// <summary>
    /// Reads upstream gRPC messages of any loaded type: the binary form needs no type registry, and the bounds are
    /// protobuf's own (100 levels; the channel's maximum message size bounds the rest).
    /// </summary>
    public static DescriptorCodec Upstream { get; } = new([], new MessageCodecLimits { MaxDepth = 100, MaxRepeated = int.MaxValue });

#pragma warning disable CA1822 // An instance member: which codec lays out a type may matter once codecs differ in options.
    internal MessageLayout LayoutOf(MessageDescriptor type) => s_layouts.GetValue(type, static t => new MessageLayout(t));
#pragma warning restore CA1822

    public DynamicMessage ParseBinary(MessageDescriptor type, ReadOnlySpan<byte> data) => ProtoBinary.Parse(this, type, data);

    public static byte[] ToBinary(DynamicMessage message) => ProtoBinary.Write(message);

    /// <summary>The message in <paramref name="json"/> (UTF-8 proto3 JSON); a <see cref="MessageCodecException"/> names the field that does not fit.</summary>
    public DynamicMessage ParseJson(MessageDescriptor type, ReadOnlySpan<byte> json) => ProtoJsonReader.Parse(this, type, json);

    public byte[] ToJson(DynamicMessage message)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer, s_writerOptions))
        {
            ProtoJsonWriter.Write(this, writer, message);
        }

        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>Binary to JSON in one step: what fan-out does once per upstream message, REST once per response.</summary>
    public byte[] BinaryToJson(MessageDescriptor type, ReadOnlySpan<byte> data) => ToJson(ParseBinary(type, data));

    /// <summary>JSON to binary in one step: what a REST or Connect request costs before its upstream call.</summary>
    public byte[] JsonToBinary(MessageDescriptor type, ReadOnlySpan<byte> json) => ToBinary(ParseJson(type, json));

    private static void AddWithNested(Dictionary<string, MessageDescriptor> types, MessageDescriptor type)
    {
        types[type.FullName] = type;
        foreach (var nested in type.NestedTypes)
        {
            AddWithNested(types, nested);
        }
    }

    private static IEnumerable<FileDescriptor> Closure(IEnumerable<FileDescriptor> roots)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var pending = new Stack<FileDescriptor>(roots);
        while (pending.Count > 0)
        {
            var file = pending.Pop();
            if (seen.Add(file.Name))
            {
                yield return file;
                foreach (var dependency in file.Dependencies)
                {
                    pending.Push(dependency);
                }
            }
        }
    }
}
