using System.Security.Cryptography;
using Google.Protobuf;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace EdgeBridge.Contracts;

/// <summary>What became of a reload.</summary>
internal enum ContractReload
{
    /// <summary>A new catalog is in force.</summary>
    Reloaded,

    /// <summary>The files say what they said: the catalog in force stays.</summary>
    Unchanged,

    /// <summary>The contracts did not load; the catalog in force stays and <see cref="ContractSource.LastError"/> says why.</summary>
    Refused,
}

/// <summary>
/// The catalog in force and its replacements. Every reader takes <see cref="Current"/> when it starts a piece of work
/// (a request, a subscribe, a call) and keeps that catalog for it: a reload changes what the next piece of work sees,
/// never one in flight. <see cref="Changed"/> tells the stream layer, which ends the calls of methods that went away
/// or changed shape.
/// </summary>
internal sealed partial class ContractSource
{
    private readonly IOptionsFactory<ContractOptions> _contracts;
    private readonly IOptions<EdgeBridgeOptions> _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Lock _reloading = new();
    private Loaded _loaded;
    private string? _lastError;

    /// <summary>Builds the first catalog; one that does not hold stops the host, naming the problem.</summary>
    public ContractSource(IOptionsFactory<ContractOptions> contracts, IOptions<EdgeBridgeOptions> options, TimeProvider time, ILogger<ContractSource> logger)
    {
        (_contracts, _options, _time, _logger) = (contracts, options, time, logger);
        var first = contracts.Create(Options.DefaultName);
        _loaded = new Loaded(new ContractCatalog(first, options.Value), Fingerprint(first), 1, time.GetUtcNow());
    }

    public ContractCatalog Current => Volatile.Read(ref _loaded).Catalog;

    /// <summary>How many catalogs have been in force, this one included.</summary>
    public long Generation => Volatile.Read(ref _loaded).Generation;

    /// <summary>When the catalog in force was loaded.</summary>
    public DateTimeOffset LoadedAt => Volatile.Read(ref _loaded).At;

    /// <summary>Why the last reload was refused, until one succeeds.</summary>
    public string? LastError => Volatile.Read(ref _lastError);

    /// <summary>Raised with the new catalog once it is in force, on the thread that reloaded.</summary>
    public event Action<ContractCatalog>? Changed;

    /// <summary>Whether <paramref name="method"/> is served as it is by the catalog in force.</summary>
    public bool IsCurrent(StreamingMethod method) =>
        Current.TryGet(method.FullName, out var current) && (ReferenceEquals(current, method) || current.Shape == method.Shape);

    /// <summary>Loads the contracts again (configuration's files, compiled contracts, reflection) and puts them in force when they hold.</summary>
    public ContractReload Reload()
    {
        lock (_reloading)
        {
            var previous = _loaded;
            ContractCatalog next;
            byte[] fingerprint;
            try
            {
                var contracts = _contracts.Create(Options.DefaultName);
                fingerprint = Fingerprint(contracts);
                if (fingerprint.AsSpan().SequenceEqual(previous.Fingerprint))
                {
                    Volatile.Write(ref _lastError, null);
                    return ContractReload.Unchanged;
                }

                next = new ContractCatalog(contracts, _options.Value);
            }
            catch (Exception ex) when (ex is InvalidOperationException or IOException or FormatException or ArgumentException)
            {
                Volatile.Write(ref _lastError, ex.Message);
                Log.Refused(_logger, previous.Generation, ex.Message);
                return ContractReload.Refused;
            }

            var loaded = new Loaded(next, fingerprint, previous.Generation + 1, _time.GetUtcNow());
            Volatile.Write(ref _loaded, loaded);
            Volatile.Write(ref _lastError, null);
            Log.Reloaded(_logger, loaded.Generation, next.MethodCount, next.Methods.Count);
            Changed?.Invoke(next);
            return ContractReload.Reloaded;
        }
    }

    // What the catalog is built from, as one value: the files as serialized (source info included, so that a comment
    // edit reaches the documents) and the http rules of the API configurations.
    private static byte[] Fingerprint(ContractOptions contracts)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData([contracts.Incomplete ? (byte)1 : (byte)0]);
        foreach (var file in contracts.Files)
        {
            hash.AppendData(file.SerializedData.Span);
        }

        foreach (var (selector, rule) in contracts.HttpRules.OrderBy(r => r.Key, StringComparer.Ordinal))
        {
            hash.AppendData(System.Text.Encoding.UTF8.GetBytes(selector));
            hash.AppendData(rule.ToByteArray());
        }

        return hash.GetHashAndReset();
    }

    private sealed record Loaded(ContractCatalog Catalog, byte[] Fingerprint, long Generation, DateTimeOffset At);

    private static partial class Log
    {
        [LoggerMessage(EventId = 1, EventName = "ContractsReloaded", Level = LogLevel.Information,
            Message = "Contracts reloaded (generation {Generation}): {Methods} methods, {Streams} exposed streams.")]
        public static partial void Reloaded(ILogger logger, long generation, int methods, int streams);

        [LoggerMessage(EventId = 2, EventName = "ContractsRefused", Level = LogLevel.Error,
            Message = "The contracts did not load and generation {Generation} stays in force: {Problem}")]
        public static partial void Refused(ILogger logger, long generation, string problem);
    }
}
