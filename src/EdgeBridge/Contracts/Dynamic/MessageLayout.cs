using System.Collections.Frozen;
using System.Text.Encodings.Web;
using System.Text.Json;
using Google.Protobuf.Reflection;

namespace EdgeBridge.Contracts.Dynamic;

/// <summary>
/// What the descriptor-driven codec needs of one message type, worked out once: the fields in number order (the order
/// Google.Protobuf writes them, in binary and in JSON), where each field number lives, the JSON names, and the oneofs.
/// </summary>
internal sealed class MessageLayout
{
    /// <summary>The escaping the edge's JSON uses everywhere (<see cref="ProtoJson"/>): names are encoded with it once.</summary>
    internal static readonly JavaScriptEncoder Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping;

    private readonly FrozenDictionary<int, int> _indexOfNumber;
    private readonly FrozenDictionary<string, int> _indexOfName;

    public MessageLayout(MessageDescriptor descriptor)
    {
        Descriptor = descriptor;
        Fields = [.. descriptor.Fields.InFieldNumberOrder()];
        JsonNames = [.. Fields.Select(f => JsonEncodedText.Encode(f.JsonName, Encoder))];
        _indexOfNumber = Fields.Select((f, i) => KeyValuePair.Create(f.FieldNumber, i)).ToFrozenDictionary();

        // As Google.Protobuf's JsonParser: a field answers to its JSON name and to its name in the .proto.
        var names = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < Fields.Length; i++)
        {
            names.TryAdd(Fields[i].JsonName, i);
            names.TryAdd(Fields[i].Name, i);
        }

        _indexOfName = names.ToFrozenDictionary(StringComparer.Ordinal);
        OneofOf = [.. Fields.Select(f => f.ContainingOneof is { } oneof ? oneof.Index : -1)];
        Members = [.. descriptor.Oneofs.Select(o => o.Fields.Select(f => _indexOfNumber[f.FieldNumber]).ToArray())];
        IsMapEntry = descriptor.GetOptions()?.MapEntry == true;
        IsWrapper = WellKnownTypes.IsWrapper(descriptor);
    }

    public MessageDescriptor Descriptor { get; }

    /// <summary>The fields in number order.</summary>
    public FieldDescriptor[] Fields { get; }

    public JsonEncodedText[] JsonNames { get; }

    /// <summary>Per field, the index of its oneof (a real one or proto3 <c>optional</c>'s synthetic one), or -1.</summary>
    public int[] OneofOf { get; }

    /// <summary>Per oneof, the indexes of its fields.</summary>
    public int[][] Members { get; }

    public bool IsMapEntry { get; }

    /// <summary>A wrapper (Int32Value, …): generated code writes its value unless bitwise zero, so -0 is kept.</summary>
    public bool IsWrapper { get; }

    public bool TryGetIndex(int number, out int index) => _indexOfNumber.TryGetValue(number, out index);

    public bool TryGetIndex(string jsonOrProtoName, out int index) => _indexOfName.TryGetValue(jsonOrProtoName, out index);
}
