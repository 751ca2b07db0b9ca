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

/// <summary>
/// The OpenAPI and AsyncAPI documents of the contracts in force, generated once per catalog and serialized once:
/// after a reload the next request gets the new documents.
/// </summary>
internal sealed class ContractDocuments(ContractSource source, IOptions<DescriptorSetOptions> sets, IOptions<EdgeBridgeOptions> options)
{
    private const string Version = "v1";
    private Documents? _documents;

    public IReadOnlyList<FileDescriptor> DescribedFiles => Current.Files.Value;

    public byte[] OpenApi => Current.OpenApi.Value;

    /// <summary>The AsyncAPI document with the server host the client used.</summary>
    public byte[] AsyncApi(string host, bool secure)
    {
        var document = (JsonObject)Current.AsyncApi.Value.DeepClone();
        var server = document["servers"]!["edge"]!.AsObject();
        server["host"] = host;
        server["protocol"] = secure ? "wss" : "ws";
        return Serialize(document);
    }

    // Two requests racing past a reload may both build the new documents; either result is right and one is kept.
    private Documents Current
    {
        get
        {
            var catalog = source.Current;
            var documents = Volatile.Read(ref _documents);
            if (documents?.Catalog != catalog)
            {
                documents = new Documents(catalog, sets.Value, options.Value);
                Volatile.Write(ref _documents, documents);
            }

            return documents;
        }
    }

    private sealed class Documents
    {
        public Documents(ContractCatalog catalog, DescriptorSetOptions sets, EdgeBridgeOptions options)
        {
            Catalog = catalog;
            var title = Title(catalog.Contracts);
            Files = new(() => ContractDocuments.Files(catalog.Contracts, sets));
            OpenApi = new(() => Serialize(OpenApiWriter.Write(Files.Value, title, Version, catalog.Methods, options.Streams.Path, options.Rpc.Enabled ? catalog.BrowserCalls : null,
                method => catalog.FindGrpc("/" + method.Service.FullName + "/" + method.Name)?.RequiresCaller == true,
                method => catalog.FindGrpc("/" + method.Service.FullName + "/" + method.Name)?.HttpRule)));
            AsyncApi = new(() => AsyncApiWriter.Write(catalog.Methods, Files.Value, title, Version, options.WebSockets.Path, options.Streams.Path, catalog.SocketCalls, options.Rpc.Enabled));
        }

        public ContractCatalog Catalog { get; }

        public Lazy<IReadOnlyList<FileDescriptor>> Files { get; }

        public Lazy<byte[]> OpenApi { get; }

        public Lazy<JsonObject> AsyncApi { get; }
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
