using Google.Api;
using Google.Protobuf.Reflection;

namespace EdgeBridge.Contracts;

/// <summary>
/// What an http rule names must exist, checked when the contracts load rather than on the first request: a template
/// that does not parse, a path variable that is not a field of the request (or names a message, a map or goes through
/// a repeated field), a <c>body</c> or <c>response_body</c> that is not a field. Each stops the load naming the
/// method, the template and the field.
/// </summary>
internal static class HttpRuleCheck
{
    public static void Verify(MethodDescriptor method, HttpRule rule, IReadOnlyList<HttpRuleTemplate> bindings)
    {
        var rules = rule.AdditionalBindings.Prepend(rule).ToList();
        foreach (var binding in rules)
        {
            if (HttpRuleTemplate.PatternOf(binding) is var (verb, path) && HttpRuleTemplate.Parse(verb, path, binding.Body) is null)
            {
                throw new InvalidOperationException($"{method.FullName}: the http rule's template {verb} {path} does not parse.");
            }
        }

        foreach (var template in bindings)
        {
            var where = $"{method.FullName}: the http rule {template.HttpMethod} {template.Template}";
            foreach (var variable in template.Variables)
            {
                if (Problem(method.InputType, variable) is { } problem)
                {
                    throw new InvalidOperationException($"{where} binds '{variable}', {problem}.");
                }
            }

            if (template.Body is not ("" or "*") && method.InputType.FindFieldByName(template.Body) is null)
            {
                throw new InvalidOperationException($"{where} takes its body into '{template.Body}', which is not a field of {method.InputType.FullName}.");
            }

            if (template.ResponseBody.Length > 0 && method.OutputType.FindFieldByName(template.ResponseBody) is null)
            {
                throw new InvalidOperationException($"{where} answers with response_body '{template.ResponseBody}', which is not a field of {method.OutputType.FullName}.");
            }
        }
    }

    // A path variable names a singular field through singular messages, and ends on a value a path segment can hold.
    private static string? Problem(MessageDescriptor type, string path)
    {
        var names = path.Split('.');
        for (var i = 0; i < names.Length; i++)
        {
            var field = type.FindFieldByName(names[i]);
            if (field is null)
            {
                return $"which is not a field of {type.FullName}";
            }

            if (i == names.Length - 1)
            {
                return field.IsMap || (field.FieldType == FieldType.Message && !IsWrapper(field.MessageType))
                    ? $"which is a {(field.IsMap ? "map" : "message")} field: a path segment holds a value"
                    : null;
            }

            if (field.IsRepeated || field.FieldType != FieldType.Message)
            {
                return $"but '{names[i]}' is {(field.IsRepeated ? "repeated" : "not a message")}";
            }

            type = field.MessageType;
        }

        return null;
    }

    private static bool IsWrapper(MessageDescriptor type) =>
        type.File.Name == "google/protobuf/wrappers.proto";
}
