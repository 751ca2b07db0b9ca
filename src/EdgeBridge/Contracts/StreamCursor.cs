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

            value = MessageFields.Get(message, field);
        }

        if (value is null)
        {
            return original;
        }

        return MessageFields.With(original, _requestField, value);
    }

    /// <summary>
    /// A copy of <paramref name="original"/> that starts after <paramref name="position"/> (a cursor as a client
    /// echoes it, e.g. SSE's <c>Last-Event-ID</c>); <see cref="FormatException"/> when it is not one of this field.
    /// </summary>
    public IMessage After(IMessage original, string position)
    {
        object value = _requestField.FieldType switch
        {
            FieldType.String => position,
            FieldType.Int64 or FieldType.SInt64 or FieldType.SFixed64 => long.Parse(position, System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture),
            FieldType.UInt64 or FieldType.Fixed64 => ulong.Parse(position, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture),
            FieldType.Int32 or FieldType.SInt32 => int.Parse(position, System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture),
            _ => uint.Parse(position, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture),
        };
        return MessageFields.With(original, _requestField, value);
    }

    /// <summary>
    /// The position a message carries, read from its proto3 JSON (the form HTTP streams send, so it is read where it
    /// is written instead of decoding the message again); null when the message has none.
    /// </summary>
    public string? PositionOf(ReadOnlySpan<byte> json)
    {
        var reader = new System.Text.Json.Utf8JsonReader(json);
        var depth = 0;
        while (reader.Read())
        {
            if (reader.TokenType == System.Text.Json.JsonTokenType.PropertyName && reader.CurrentDepth == depth + 1
                && reader.ValueTextEquals(_responsePath[depth].JsonName))
            {
                reader.Read();
                if (depth == _responsePath.Length - 1)
                {
                    return reader.TokenType switch
                    {
                        System.Text.Json.JsonTokenType.String => reader.GetString(),
                        System.Text.Json.JsonTokenType.Number => System.Text.Encoding.UTF8.GetString(reader.ValueSpan),
                        _ => null,
                    };
                }

                if (reader.TokenType != System.Text.Json.JsonTokenType.StartObject)
                {
                    return null;
                }

                depth++;
            }
            else if (reader.TokenType is System.Text.Json.JsonTokenType.StartObject or System.Text.Json.JsonTokenType.StartArray && reader.CurrentDepth > depth)
            {
                reader.Skip();
            }
        }

        return null;
    }

    private static bool IsPosition(FieldType type) => type is FieldType.Int64 or FieldType.UInt64 or FieldType.Int32 or FieldType.UInt32
        or FieldType.SInt64 or FieldType.SInt32 or FieldType.Fixed64 or FieldType.SFixed64 or FieldType.String;

    private static InvalidOperationException Invalid(string method, string problem) =>
        new($"The edgebridge.v1.stream resume option of {method} is invalid: {problem}.");
}
