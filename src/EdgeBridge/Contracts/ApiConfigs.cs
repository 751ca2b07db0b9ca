using System.Text.Json;
using Google.Api;
using Google.Protobuf;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace EdgeBridge.Contracts;

/// <summary>
/// HTTP rules from API configuration YAML (<c>EdgeBridge:Contracts:ApiConfigs</c>), the google.api.Service format
/// grpc-gateway and Google's gateways read — for protos that cannot be edited to carry <c>google.api.http</c>:
/// <code>
/// type: google.api.Service
/// config_version: 3
/// http:
///   rules:
///     - selector: prices.v1.PriceService.GetPrice
///       get: /api/prices/{symbol}
/// </code>
/// A rule here replaces the method's own <c>google.api.http</c> option.
/// </summary>
internal static class ApiConfigs
{
    private const string Key = EdgeBridgeOptions.SectionName + ":Contracts:ApiConfigs";

    private static readonly JsonParser s_parser = new(JsonParser.Settings.Default);

    /// <summary>The rules of every file by selector (<c>package.Service.Method</c>); a file that does not hold stops the host naming it.</summary>
    public static Dictionary<string, HttpRule> Load(IReadOnlyList<string> paths, Func<string, string> resolve)
    {
        var rules = new Dictionary<string, HttpRule>(StringComparer.Ordinal);
        for (var i = 0; i < paths.Count; i++)
        {
            var path = resolve(paths[i]);
            Google.Api.Http http;
            try
            {
                http = Parse(File.ReadAllText(path));
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or YamlException or InvalidProtocolBufferException or InvalidJsonException or FormatException)
            {
                throw new InvalidOperationException($"{Key}:{i} '{path}' is not an API configuration with http rules: {ex.Message}", ex);
            }

            foreach (var rule in http.Rules)
            {
                if (rule.Selector.Length == 0 || !rules.TryAdd(rule.Selector, rule))
                {
                    throw new InvalidOperationException($"{Key}:{i} '{path}': a rule's selector is empty or given twice ('{rule.Selector}').");
                }
            }
        }

        return rules;
    }

    /// <summary>The <c>http</c> section of one file, read as the google.api.Http message (proto field names or JSON names).</summary>
    public static Google.Api.Http Parse(string yaml)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(yaml));
        if (stream.Documents.Count == 0 || stream.Documents[0].RootNode is not YamlMappingNode root)
        {
            throw new FormatException("The file is not a YAML mapping.");
        }

        if (!root.Children.TryGetValue(new YamlScalarNode("http"), out var http))
        {
            throw new FormatException("The file has no 'http' section.");
        }

        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            WriteJson(writer, http);
        }

        return s_parser.Parse<Google.Api.Http>(System.Text.Encoding.UTF8.GetString(buffer.ToArray()));
    }

    // Every scalar as a string: the http rule's fields are all strings or messages.
    private static void WriteJson(Utf8JsonWriter writer, YamlNode node)
    {
        switch (node)
        {
            case YamlMappingNode mapping:
                writer.WriteStartObject();
                foreach (var (name, value) in mapping.Children)
                {
                    writer.WritePropertyName(((YamlScalarNode)name).Value ?? "");
                    WriteJson(writer, value);
                }

                writer.WriteEndObject();
                break;
            case YamlSequenceNode sequence:
                writer.WriteStartArray();
                foreach (var item in sequence.Children)
                {
                    WriteJson(writer, item);
                }

                writer.WriteEndArray();
                break;
            case YamlScalarNode scalar:
                writer.WriteStringValue(scalar.Value);
                break;
            default:
                throw new FormatException($"Unexpected YAML node at {node.Start}.");
        }
    }
}
