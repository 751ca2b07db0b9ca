using Grpc.Core;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using EdgeBridge.Upstream;

namespace EdgeBridge.Contracts.Reflection;

/// <summary>
/// Reads the contracts through the upstream cluster's server reflection and reloads them: at start (the edge is not
/// ready until it succeeds), every <see cref="EdgeContractsOptions.ReflectionRefresh"/>, and as soon as the replica
/// it read from goes away — the reflection stream is held open for that, so a replica that comes back with another
/// contract is read again at once rather than at the next refresh. A failed read is retried with backoff and the
/// contracts in force stay.
/// </summary>
internal sealed partial class ContractReflection(
    ReflectedContracts reflected, ContractSource source, UpstreamChannels channels, IOptions<EdgeBridgeOptions> options,
    TimeProvider time, ILogger<ContractReflection> logger) : BackgroundService
{
    private static readonly TimeSpan s_firstRetry = TimeSpan.FromMilliseconds(250);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!reflected.Enabled)
        {
            return;
        }

        var contracts = options.Value.Contracts;
        var timeout = options.Value.Upstream.HealthCheckTimeout;
        var retry = s_firstRetry;
        while (!stoppingToken.IsCancellationRequested)
        {
            using var read = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
            try
            {
                var (reader, files) = await ServerReflectionReader.ReadAsync(channels.Next(), timeout, time, read.Token);
                using (reader)
                {
                    reflected.Read(files);
                    if (source.Reload() == ContractReload.Refused)
                    {
                        throw new InvalidOperationException(source.LastError);
                    }

                    reflected.Applied();
                    retry = s_firstRetry;

                    // Held until the refresh is due or the replica goes away, whichever comes first.
                    var due = Task.Delay(contracts.ReflectionRefresh, time, read.Token);
                    if (await Task.WhenAny(reader.Ended, due) == reader.Ended && !stoppingToken.IsCancellationRequested)
                    {
                        Log.StreamEnded(logger);
                    }
                }
            }
            catch (Exception ex) when (ex is RpcException or InvalidOperationException && !stoppingToken.IsCancellationRequested)
            {
                var problem = ex is RpcException rpc ? $"{rpc.StatusCode}: {rpc.Status.Detail}" : ex.Message;
                reflected.Failed(problem);
                Log.ReadFailed(logger, retry, problem);
                try
                {
                    await Task.Delay(retry, time, stoppingToken);
                }
                catch (OperationCanceledException)
                {
                    return;
                }

                retry = TimeSpan.FromTicks(Math.Min(retry.Ticks * 2, contracts.ReflectionRefresh.Ticks));
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            finally
            {
                await read.CancelAsync();
            }
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 3, EventName = "ReflectionReadFailed", Level = LogLevel.Warning,
            Message = "The contracts could not be read through server reflection (again in {Retry}): {Problem}")]
        public static partial void ReadFailed(ILogger logger, TimeSpan retry, string problem);

        [LoggerMessage(EventId = 4, EventName = "ReflectionStreamEnded", Level = LogLevel.Information,
            Message = "The replica the contracts were read from went away: reading them again.")]
        public static partial void StreamEnded(ILogger logger);
    }
}
