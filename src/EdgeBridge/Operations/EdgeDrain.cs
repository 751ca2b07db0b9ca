using EdgeBridge.WebSockets;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace EdgeBridge.Operations;

/// <summary>
/// The edge's drain on SIGTERM, before the server stops: readiness fails at once (the balancer stops sending new
/// clients), new sockets are refused with 503, and every socket gets a <c>goaway</c> so that its client moves to
/// another edge at a moment of its own within <see cref="EdgeWebSocketOptions.DrainPeriod"/> — spread out, while
/// this edge still serves it, resuming from its cursors. Whoever is left at the end is closed with 1001. REST and
/// gRPC keep being served until the server stops; then in-flight requests get the host's shutdown timeout.
/// </summary>
/// <remarks>
/// It runs in <see cref="IHostedLifecycleService.StoppingAsync"/> because that comes before any hosted service
/// stops, the server included: the listener must still accept the balancer's health checks and clients' last
/// requests while the sockets leave.
/// </remarks>
internal sealed partial class EdgeDrain(
    ConnectionRegistry connections,
    IOptionsMonitor<EdgeBridgeOptions> options,
    TimeProvider time,
    ILogger<EdgeDrain> logger) : IHostedLifecycleService
{
    public async Task StoppingAsync(CancellationToken cancellationToken)
    {
        var period = options.CurrentValue.WebSockets.DrainPeriod;
        Log.Draining(logger, connections.Count, period);
        if (period > TimeSpan.Zero)
        {
            connections.BeginDrain(ServerFrames.GoAway(period));
            try
            {
                // The shutdown timeout (the token) bounds the drain too.
                await connections.Emptied.WaitAsync(period, time, cancellationToken);
            }
            catch (Exception ex) when (ex is TimeoutException or OperationCanceledException)
            {
                // Time is up: the rest are sent away.
            }
        }

        var left = connections.Count;
        connections.SendAwayAll();
        Log.Drained(logger, left);
    }

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    private static partial class Log
    {
        [LoggerMessage(EventId = 1, EventName = "Draining", Level = LogLevel.Information,
            Message = "Draining: {Connections} connections told to reconnect elsewhere within {Period}.")]
        public static partial void Draining(ILogger logger, int connections, TimeSpan period);

        [LoggerMessage(EventId = 2, EventName = "Drained", Level = LogLevel.Information,
            Message = "Drain over: {Connections} connections still here were closed with 1001.")]
        public static partial void Drained(ILogger logger, int connections);
    }
}
