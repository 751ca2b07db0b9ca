using EdgeBridge.Contracts.V1;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace EdgeBridge.Contracts;

/// <summary>
/// Contracts read at start from descriptor set files (<c>EdgeBridge:Contracts:DescriptorSets</c>), as <c>buf build -o</c>
/// or <c>protoc --descriptor_set_out --include_imports --include_source_info</c> write them: the edge then fronts a
/// backend it was not compiled against. Their messages have no generated classes and go through
/// <see cref="Dynamic.DescriptorCodec"/>.
/// </summary>
internal sealed class DescriptorSets(IOptions<EdgeBridgeOptions> options, IHostEnvironment environment) : IConfigureOptions<ContractOptions>
{
    private const string Key = EdgeBridgeOptions.SectionName + ":Contracts:DescriptorSets";

    // The options the edge reads from methods: without the registry they would be unknown fields of MethodOptions.
    private static readonly ExtensionRegistry s_extensions =
    [
        OptionsExtensions.Stream, OptionsExtensions.Access, OptionsExtensions.Credentials, OptionsExtensions.Call,
        Google.Api.AnnotationsExtensions.Http,
    ];

    public void Configure(ContractOptions contracts)
    {
        var paths = options.Value.Contracts.DescriptorSets;
        for (var i = 0; i < paths.Count; i++)
        {
            contracts.Files.AddRange(Load($"{Key}:{i}", Resolve(paths[i])));
        }

        foreach (var (selector, rule) in ApiConfigs.Load(options.Value.Contracts.ApiConfigs, Resolve))
        {
            contracts.HttpRules[selector] = rule;
        }
    }

    /// <summary>The files of one descriptor set; an unreadable or inconsistent set stops the host naming the key and the problem.</summary>
    public static IReadOnlyList<FileDescriptor> Load(string key, string path)
    {
        FileDescriptorSet set;
        try
        {
            set = FileDescriptorSet.Parser.ParseFrom(File.ReadAllBytes(path));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or InvalidProtocolBufferException)
        {
            throw new InvalidOperationException($"{key} '{path}' is not a readable descriptor set: {ex.Message}", ex);
        }

        try
        {
            // BuildFromByteStrings wants each file after its imports: a set from protoc or buf is in that order already.
            return FileDescriptor.BuildFromByteStrings(set.File.Select(f => f.ToByteString()), s_extensions);
        }
        catch (Exception ex) when (ex is DescriptorValidationException or ArgumentException or InvalidOperationException)
        {
            throw new InvalidOperationException(
                $"{key} '{path}' does not hold together ({ex.Message}); build it with --include_imports so that every import is in the set.", ex);
        }
    }

    /// <summary>
    /// The given files (and their imports) rebuilt from their serialized FileDescriptorProtos, exactly as a descriptor
    /// set on disk would give them: no generated code behind them (what tests and benchmarks of the dynamic path need).
    /// </summary>
    public static IReadOnlyList<FileDescriptor> Rebuild(IEnumerable<FileDescriptor> files)
    {
        var ordered = new List<FileDescriptor>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        void Visit(FileDescriptor file)
        {
            if (seen.Add(file.Name))
            {
                foreach (var dependency in file.Dependencies)
                {
                    Visit(dependency);
                }

                ordered.Add(file);
            }
        }

        foreach (var file in files)
        {
            Visit(file);
        }

        return Build(ordered.Select(f => f.SerializedData));
    }

    /// <summary>Files from their serialized FileDescriptorProtos, each after its imports, with the options the edge reads.</summary>
    public static IReadOnlyList<FileDescriptor> Build(IEnumerable<ByteString> files) => FileDescriptor.BuildFromByteStrings(files, s_extensions);

    private string Resolve(string path) => Resolve(path, environment);

    /// <summary>Where a configured contract file is: as given when rooted, else under the content root, else beside the host.</summary>
    public static string Resolve(string path, IHostEnvironment environment) =>
        Path.IsPathRooted(path) ? path
        : Path.Combine(environment.ContentRootPath, path) is var underRoot && File.Exists(underRoot) ? underRoot
        : Path.Combine(AppContext.BaseDirectory, path);
}
