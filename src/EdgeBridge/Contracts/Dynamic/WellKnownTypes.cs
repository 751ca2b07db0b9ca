using System.Collections.Frozen;
using Google.Protobuf.Reflection;
using Google.Protobuf.WellKnownTypes;

namespace EdgeBridge.Contracts.Dynamic;

/// <summary>
/// The well-known types whose JSON is not an object of their fields. Their generated classes ship with Google.Protobuf,
/// so the codec reads their JSON with the library's own parser (the grammar of timestamps, durations and field masks
/// is written once, there) and only the structure around them with descriptors.
/// </summary>
internal static class WellKnownTypes
{
    public const string Any = "google.protobuf.Any";
    public const string Timestamp = "google.protobuf.Timestamp";
    public const string Duration = "google.protobuf.Duration";
    public const string FieldMask = "google.protobuf.FieldMask";
    public const string Struct = "google.protobuf.Struct";
    public const string Value = "google.protobuf.Value";
    public const string ListValue = "google.protobuf.ListValue";
    public const string NullValue = "google.protobuf.NullValue";

    /// <summary>The special types by name, with their generated descriptors.</summary>
    public static readonly FrozenDictionary<string, MessageDescriptor> Special = new[]
    {
        Google.Protobuf.WellKnownTypes.Timestamp.Descriptor, Google.Protobuf.WellKnownTypes.Duration.Descriptor,
        Google.Protobuf.WellKnownTypes.FieldMask.Descriptor, Google.Protobuf.WellKnownTypes.Struct.Descriptor,
        Google.Protobuf.WellKnownTypes.Value.Descriptor, Google.Protobuf.WellKnownTypes.ListValue.Descriptor,
        DoubleValue.Descriptor, FloatValue.Descriptor, Int64Value.Descriptor, UInt64Value.Descriptor, Int32Value.Descriptor,
        UInt32Value.Descriptor, BoolValue.Descriptor, StringValue.Descriptor, BytesValue.Descriptor,
    }.ToFrozenDictionary(d => d.FullName, StringComparer.Ordinal);

    private static readonly FrozenSet<string> s_wrappers = new[]
    {
        DoubleValue.Descriptor, FloatValue.Descriptor, Int64Value.Descriptor, UInt64Value.Descriptor, Int32Value.Descriptor,
        UInt32Value.Descriptor, BoolValue.Descriptor, StringValue.Descriptor, BytesValue.Descriptor,
    }.Select(d => d.FullName).ToFrozenSet(StringComparer.Ordinal);

    /// <summary>Whether <paramref name="type"/> is written as its <c>value</c> field (Int32Value as a number, …).</summary>
    public static bool IsWrapper(MessageDescriptor type) => s_wrappers.Contains(type.FullName);

    /// <summary>A type of the well-known files: inside an Any its JSON is the <c>value</c> property.</summary>
    public static bool IsWellKnown(MessageDescriptor type) =>
        type.File.Package == "google.protobuf" && type.File.Name is "google/protobuf/any.proto" or "google/protobuf/api.proto"
            or "google/protobuf/duration.proto" or "google/protobuf/empty.proto" or "google/protobuf/field_mask.proto"
            or "google/protobuf/source_context.proto" or "google/protobuf/struct.proto" or "google/protobuf/timestamp.proto"
            or "google/protobuf/type.proto" or "google/protobuf/wrappers.proto";
}
