using EdgeBridge.Contracts.V1;
using Google.Protobuf;
using Google.Protobuf.Reflection;

namespace EdgeBridge.Contracts;

/// <summary>
/// A resumable stream's cursor, from its <c>edgebridge.v1.stream</c> <c>resume</c> option: which request field says
/// where to start and which response field carries each message's position. Checked when the contract loads, so a
/// misspelt field stops the host instead of duplicating messages at the first failover.
/// </summary>
internal sealed class StreamCursor
{
    private readonly FieldDescriptor _requestField;
    private readonly FieldDescriptor[] _responsePath;

    private StreamCursor(FieldDescriptor requestField, FieldDescriptor[] responsePath)
    {
        _requestField = requestField;
        _responsePath = responsePath;
    }

    /// <summary>The request field's proto name, e.g. <c>after_sequence</c>.</summary>
    public string RequestField => _requestField.Name;

    /// <summary>The response field's path of proto names, e.g. <c>update.sequence</c>.</summary>
    public string ResponseField => string.Join('.', _responsePath.Select(f => f.Name));

    /// <summary>The cursor <paramref name="resume"/> names on <paramref name="method"/>; null when it names none.</summary>
    public static StreamCursor? For(MethodDescriptor method, Resume? resume)
    {
        if (resume is null || (resume.RequestField.Length == 0 && resume.ResponseField.Length == 0))
        {
            return null;
        }

        var name = method.FullName;
        var request = method.InputType.FindFieldByName(resume.RequestField)
            ?? throw Invalid(name, $"request field '{resume.RequestField}' is not a field of {method.InputType.FullName}");
        if (request.IsRepeated || !IsPosition(request.FieldType))
        {
            throw Invalid(name, $"request field '{resume.RequestField}' must be a single integer or string");
        }

        var path = new List<FieldDescriptor>();
        var type = method.OutputType;
        foreach (var part in resume.ResponseField.Split('.'))
        {
            var field = type?.FindFieldByName(part)
                ?? throw Invalid(name, $"response field '{resume.ResponseField}' is not a field path of {method.OutputType.FullName}");
            if (field.IsRepeated)
            {
                throw Invalid(name, $"response field '{resume.ResponseField}' crosses a repeated field");
            }

            path.Add(field);
            type = field.FieldType == FieldType.Message ? field.MessageType : null;
        }

        if (path[^1].FieldType != request.FieldType)
        {
            throw Invalid(name, $"response field '{resume.ResponseField}' ({path[^1].FieldType}) and request field '{resume.RequestField}' ({request.FieldType}) differ in type");
        }

        return new StreamCursor(request, [.. path]);
    }

    /// <summary>
    /// The request that continues after <paramref name="last"/>: a copy of <paramref name="original"/> with the cursor
    /// field set to <paramref name="last"/>'s position; the original itself when that message carries none.
    /// </summary>
    public IMessage After(IMessage original, IMessage last)
    {
        object? value = last;
        foreach (var field in _responsePath)
        {
            if (value is not IMessage message)
            {
                return original;
            }

            value = field.Accessor.GetValue(message);
        }

        if (value is null)
        {
            return original;
        }

        var resumed = original.Descriptor.Parser.ParseFrom(original.ToByteString());
        _requestField.Accessor.SetValue(resumed, value);
        return resumed;
    }

    private static bool IsPosition(FieldType type) => type is FieldType.Int64 or FieldType.UInt64 or FieldType.Int32 or FieldType.UInt32
        or FieldType.SInt64 or FieldType.SInt32 or FieldType.Fixed64 or FieldType.SFixed64 or FieldType.String;

    private static InvalidOperationException Invalid(string method, string problem) =>
        new($"The edgebridge.v1.stream resume option of {method} is invalid: {problem}.");
}
