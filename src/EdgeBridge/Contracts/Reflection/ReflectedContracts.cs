using Google.Protobuf.Reflection;
using Microsoft.Extensions.Options;

namespace EdgeBridge.Contracts.Reflection;

/// <summary>
/// The files last read through the upstream cluster's server reflection (<c>EdgeBridge:Contracts:Reflection</c>),
/// added to the contracts after the descriptor sets (a file a set already has is kept from the set). Until the first
/// read the contracts are <see cref="ContractOptions.Incomplete"/> and the edge is not ready.
/// </summary>
internal sealed class ReflectedContracts(IOptions<EdgeBridgeOptions> options) : IConfigureOptions<ContractOptions>
{
    private IReadOnlyList<FileDescriptor>? _files;
    private string? _problem = "the upstream cluster's reflection has not been read yet";
    private bool _inForce;

    public bool Enabled => options.Value.Contracts.Reflection;

    /// <summary>Whether reflected contracts have been put in force once: the edge is ready from then on.</summary>
    public bool InForce => Volatile.Read(ref _inForce);

    /// <summary>Why the last read (or its reload) failed, until one succeeds.</summary>
    public string? Problem => Volatile.Read(ref _problem);

    public void Configure(ContractOptions contracts)
    {
        if (!Enabled)
        {
            return;
        }

        if (Volatile.Read(ref _files) is not { } files)
        {
            contracts.Incomplete = true;
            return;
        }

        var present = contracts.Files.Select(f => f.Name).ToHashSet(StringComparer.Ordinal);
        contracts.Files.AddRange(files.Where(f => !present.Contains(f.Name)));
    }

    public void Read(IReadOnlyList<FileDescriptor> files) => Volatile.Write(ref _files, files);

    public void Failed(string problem) => Volatile.Write(ref _problem, problem);

    public void Applied()
    {
        Volatile.Write(ref _problem, null);
        Volatile.Write(ref _inForce, true);
    }
}
