using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;
using EdgeBridge.Contracts;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using Microsoft.Extensions.Options;

namespace EdgeBridge.Documents;

/// <summary>Descriptor sets (with source info) that carry the contract's comments into the documents.</summary>
internal sealed class DescriptorSetOptions
{
    public List<byte[]> Sets { get; } = [];
}

/// <summary>The OpenAPI and AsyncAPI documents of the registered contract, generated once and serialized once.</summary>
internal sealed class ContractDocuments
{
    private const string Version = "v1";
    private readonly Lazy<IReadOnlyList<FileDescriptor>> _files;
    private readonly Lazy<byte[]> _openApi;
    private readonly Lazy<JsonObject> _asyncApi;

    public ContractDocuments(IOptions<ContractOptions> contracts, IOptions<DescriptorSetOptions> sets, ContractCatalog catalog, IOptions<EdgeBridgeOptions> options)
    {
        var title = Title(contracts.Value);
        _files = new(() => Files(contracts.Value, sets.Value));
        _openApi = new(() => Serialize(OpenApiWriter.Write(_files.Value, title, Version, catalog.Methods, options.Value.Streams.Path, options.Value.Rpc.Enabled ? catalog.BrowserCalls : null,
            method => catalog.FindGrpc("/" + method.Service.FullName + "/" + method.Name)?.RequiresCaller == true,
            method => catalog.FindGrpc("/" + method.Service.FullName + "/" + method.Name)?.HttpRule)));
        _asyncApi = new(() => AsyncApiWriter.Write(catalog.Methods, _files.Value, title, Version, options.Value.WebSockets.Path, options.Value.Streams.Path, catalog.SocketCalls, options.Value.Rpc.Enabled));
    }

    public IReadOnlyList<FileDescriptor> DescribedFiles => _files.Value;

    public byte[] OpenApi => _openApi.Value;

    /// <summary>The AsyncAPI document with the server host the client used.</summary>
    public byte[] AsyncApi(string host, bool secure)
    {
        var document = (JsonObject)_asyncApi.Value.DeepClone();
        var server = document["servers"]!["edge"]!.AsObject();
        server["host"] = host;
        server["protocol"] = secure ? "wss" : "ws";
        return Serialize(document);
    }

    /// <summary>
    /// The registered files, rebuilt from an embedded descriptor set when one covers them (it keeps the proto
    /// comments that generated code drops).
    /// </summary>
    private static List<FileDescriptor> Files(ContractOptions contracts, DescriptorSetOptions sets)
    {
        var registry = new ExtensionRegistry
        {
            EdgeBridge.Contracts.V1.OptionsExtensions.Stream,
            EdgeBridge.Contracts.V1.OptionsExtensions.Access,
            Google.Api.AnnotationsExtensions.Http,
        };
        var wanted = contracts.Files.Select(f => f.Name).ToHashSet(StringComparer.Ordinal);
        foreach (var bytes in sets.Sets)
        {
            var set = FileDescriptorSet.Parser.ParseFrom(bytes);
            var built = FileDescriptor.BuildFromByteStrings(set.File.Select(f => f.ToByteString()), registry);
            if (wanted.All(name => built.Any(f => f.Name == name)))
            {
                return built.Where(f => wanted.Contains(f.Name)).ToList();
            }
        }

        return [.. contracts.Files];
    }

    private static string Title(ContractOptions contracts) =>
        "API of " + string.Join(", ", contracts.Files.SelectMany(f => f.Services).Select(s => s.FullName).Order(StringComparer.Ordinal));

    private static readonly JsonSerializerOptions s_indented = new()
    {
        WriteIndented = true,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    private static byte[] Serialize(JsonObject document) => JsonSerializer.SerializeToUtf8Bytes(document, s_indented);

    /// <summary>Finds <c>*.binpb</c> descriptor sets embedded in <paramref name="assembly"/>.</summary>
    public static IEnumerable<byte[]> EmbeddedSets(Assembly assembly)
    {
        foreach (var name in assembly.GetManifestResourceNames().Where(n => n.EndsWith(".binpb", StringComparison.Ordinal)))
        {
            using var stream = assembly.GetManifestResourceStream(name)!;
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            yield return copy.ToArray();
        }
    }
}
