using System.Security.Cryptography;
using Google.Protobuf;
using Google.Protobuf.Reflection;

namespace EdgeBridge.Contracts;

/// <summary>
/// What a method is on the wire, as one value: its descriptor (name, streaming, types, options), the policy the
/// edge applies to it and every message and enum type its request and response reach. Two catalogs that give a
/// method the same shape serve it alike, so a reload keeps its running calls; any other change ends them.
/// Comments and source positions are not part of it: editing a comment keeps every call running.
/// </summary>
internal static class ContractShape
{
    public static string Of(MethodDescriptor method, ReadOnlySpan<byte> policy)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        Append(hash, method.ToProto());
        Append(hash, policy);

        var seen = new HashSet<string>(StringComparer.Ordinal);
        var pending = new Stack<MessageDescriptor>([method.InputType, method.OutputType]);
        while (pending.TryPop(out var type))
        {
            if (!seen.Add(type.FullName))
            {
                continue;
            }

            // The type's full name goes in with it: a type moved to another package is another type.
            hash.AppendData(System.Text.Encoding.UTF8.GetBytes(type.FullName));
            Append(hash, type.ToProto());
            foreach (var field in type.Fields.InFieldNumberOrder())
            {
                if (field.FieldType == FieldType.Message || field.FieldType == FieldType.Group)
                {
                    pending.Push(field.MessageType);
                }
                else if (field.FieldType == FieldType.Enum && seen.Add(field.EnumType.FullName))
                {
                    hash.AppendData(System.Text.Encoding.UTF8.GetBytes(field.EnumType.FullName));
                    Append(hash, field.EnumType.ToProto());
                }
            }
        }

        return Convert.ToHexString(hash.GetHashAndReset());
    }

    private static void Append(IncrementalHash hash, IMessage message) => Append(hash, message.ToByteArray());

    private static void Append(IncrementalHash hash, ReadOnlySpan<byte> bytes)
    {
        Span<byte> length = stackalloc byte[4];
        System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(length, bytes.Length);
        hash.AppendData(length);
        hash.AppendData(bytes);
    }
}
