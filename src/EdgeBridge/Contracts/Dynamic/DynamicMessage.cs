using Google.Protobuf;
using Google.Protobuf.Reflection;

namespace EdgeBridge.Contracts.Dynamic;

/// <summary>
/// A message known only by its descriptor — the edge's stand-in for a generated class when a contract is loaded at run
/// time. Values are indexed as <see cref="MessageLayout.Fields"/>: null for a field not set, a boxed scalar
/// (<c>int</c> for enums, <c>byte[]</c> for bytes), a <see cref="DynamicMessage"/>, a <see cref="List{T}"/> for a
/// repeated field, a <see cref="DynamicMap"/> for a map.
/// </summary>
internal sealed class DynamicMessage(MessageLayout layout) : IMessage
{
    private int _size = -1;

    public MessageLayout Layout { get; } = layout;

    public object?[] Values { get; } = new object?[layout.Fields.Length];

    public MessageDescriptor Descriptor => Layout.Descriptor;

    /// <summary>Sets a singular field; a member of a oneof clears the others, as generated code does.</summary>
    public void Set(int index, object? value)
    {
        if (Layout.OneofOf[index] is var oneof and >= 0)
        {
            foreach (var member in Layout.Members[oneof])
            {
                Values[member] = null;
            }
        }

        Values[index] = value;
    }

    public List<object> RepeatedAt(int index) => (List<object>)(Values[index] ??= new List<object>());

    public DynamicMap MapAt(int index) => (DynamicMap)(Values[index] ??= new DynamicMap());

    /// <summary>Writes the binary encoding, as generated code would (<c>ToByteArray</c> and <c>ToByteString</c> work).</summary>
    public void WriteTo(CodedOutputStream output) => ProtoBinary.WriteFields(output, this);

    public int CalculateSize() => ProtoBinary.SizeOf(this);

    /// <summary>Not supported: a dynamic message is read by <see cref="DescriptorCodec"/>, which knows the limits to apply.</summary>
    public void MergeFrom(CodedInputStream input) =>
        throw new NotSupportedException("A DynamicMessage is parsed with DescriptorCodec.ParseBinary, not merged from a CodedInputStream.");

    /// <summary>The size of the binary encoding, remembered for writing (the message is not changed after it is asked).</summary>
    internal int CachedSize => _size;

    internal void RememberSize(int size) => _size = size;
}

/// <summary>A map field's entries in the order their keys first came, each key once (the last value wins), as MapField keeps them.</summary>
internal sealed class DynamicMap
{
    private readonly Dictionary<object, int> _positions = [];

    public List<KeyValuePair<object, object>> Entries { get; } = [];

    public void Set(object key, object value)
    {
        if (_positions.TryGetValue(key, out var at))
        {
            Entries[at] = KeyValuePair.Create(key, value);
        }
        else
        {
            _positions[key] = Entries.Count;
            Entries.Add(KeyValuePair.Create(key, value));
        }
    }
}

/// <summary>Why a message could not be read or written, and where: the path of the field (<c>order.items[2].price</c>).</summary>
/// <remarks>A <see cref="FormatException"/>: the edge's paths refuse it as they refuse JsonParser's bad input.</remarks>
internal sealed class MessageCodecException(string path, string problem) : FormatException(path.Length == 0 ? problem : $"{path}: {problem}")
{
    public string Path { get; } = path;

    public string Problem { get; } = problem;
}
