using Microsoft.Extensions.Options;
using Trading.Backend.Hosting;

namespace Trading.Backend.Storage;

/// <summary>
/// Creates or migrates the schema and seeds the demo data, then marks the backend ready. When the engine is
/// unreachable at start the backend still comes up — not ready, every call answered UNAVAILABLE — and keeps
/// trying every <see cref="DatabaseOptions.RetryInterval"/>.
/// </summary>
internal sealed class DatabaseStartup(Database database, IOptions<BackendOptions> options, TimeProvider time, ILogger<DatabaseStartup> logger) : IHostedService, IDisposable
{
    private readonly CancellationTokenSource _stopping = new();
    private Task _retrying = Task.CompletedTask;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        BackendLog.DatabaseOpened(logger, database.Description);
        // The first attempt is awaited, so a reachable engine (and the embedded file) is ready before the first request.
        if (!await TryInitializeAsync(cancellationToken))
        {
            _retrying = RetryAsync(_stopping.Token);
        }
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync();
        await _retrying.WaitAsync(cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    public void Dispose() => _stopping.Dispose();

    private async Task RetryAsync(CancellationToken cancellationToken)
    {
        try
        {
            do
            {
                await Task.Delay(options.Value.Database.RetryInterval, time, cancellationToken);
            }
            while (!await TryInitializeAsync(cancellationToken));
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    private async Task<bool> TryInitializeAsync(CancellationToken cancellationToken)
    {
        try
        {
            await database.CreateSchemaAsync(cancellationToken);
            if (options.Value.SeedDemoData)
            {
                await DemoData.SeedAsync(database, cancellationToken);
                BackendLog.DemoDataSeeded(logger);
            }
        }
        catch (System.Data.Common.DbException ex) when (Database.IsUnavailable(ex))
        {
            BackendLog.DatabaseUnreachable(logger, database.Description, options.Value.Database.RetryInterval, ex);
            return false;
        }

        database.MarkReady();
        BackendLog.DatabaseReady(logger);
        return true;
    }
}
