using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace EdgeBridge.Contracts;

/// <summary>
/// Reloads the contracts when a descriptor set or API configuration file changes (<c>EdgeBridge:Contracts:Watch</c>).
/// A build or an editor writes a file in several steps (truncate, write, rename), so the reload waits until the files
/// have been quiet for <see cref="EdgeContractsOptions.ReloadDelay"/>; a half-written file that still slips through is
/// refused by <see cref="ContractSource.Reload"/> and the next event tries again.
/// </summary>
internal sealed class ContractFileWatcher(
    ContractSource source, IOptions<EdgeBridgeOptions> options, IHostEnvironment environment, TimeProvider time) : IHostedService, IDisposable
{
    private readonly List<FileSystemWatcher> _watchers = [];
    private readonly Lock _gate = new();
    private ITimer? _quiet;
    private bool _stopped;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        var contracts = options.Value.Contracts;
        if (!contracts.Watch)
        {
            return Task.CompletedTask;
        }

        // One watcher per folder, filtered by name: watching the file itself would lose it to a rename-over, which is
        // how most tools replace a file atomically.
        foreach (var group in contracts.DescriptorSets.Concat(contracts.ApiConfigs)
                     .Select(path => Path.GetFullPath(DescriptorSets.Resolve(path, environment)))
                     .Distinct(StringComparer.Ordinal)
                     .GroupBy(path => Path.GetDirectoryName(path)!, StringComparer.Ordinal))
        {
            if (!Directory.Exists(group.Key))
            {
                continue;
            }

            var watcher = new FileSystemWatcher(group.Key)
            {
                NotifyFilter = NotifyFilters.FileName | NotifyFilters.LastWrite | NotifyFilters.Size | NotifyFilters.CreationTime,
            };
            foreach (var path in group)
            {
                watcher.Filters.Add(Path.GetFileName(path));
            }

            watcher.Changed += OnChanged;
            watcher.Created += OnChanged;
            watcher.Deleted += OnChanged;
            watcher.Renamed += OnChanged;
            watcher.EnableRaisingEvents = true;
            _watchers.Add(watcher);
        }

        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        Dispose();
        return Task.CompletedTask;
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _stopped = true;
            _quiet?.Dispose();
            _quiet = null;
        }

        foreach (var watcher in _watchers)
        {
            watcher.Dispose();
        }

        _watchers.Clear();
    }

    // Every event pushes the reload back: the timer fires once, after the last write of a burst.
    private void OnChanged(object sender, FileSystemEventArgs e)
    {
        lock (_gate)
        {
            if (_stopped)
            {
                return;
            }

            var delay = options.Value.Contracts.ReloadDelay;
            if (_quiet is null)
            {
                _quiet = time.CreateTimer(static state => ((ContractFileWatcher)state!).Quiet(), this, delay, Timeout.InfiniteTimeSpan);
            }
            else
            {
                _quiet.Change(delay, Timeout.InfiniteTimeSpan);
            }
        }
    }

    private void Quiet()
    {
        lock (_gate)
        {
            if (_stopped)
            {
                return;
            }
        }

        source.Reload();
    }
}
