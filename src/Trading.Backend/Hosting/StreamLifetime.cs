using Grpc.Core;

namespace Trading.Backend.Hosting;

/// <summary>
/// Runs a server-streaming handler until its caller cancels or the backend stops. On shutdown the stream ends
/// with UNAVAILABLE, so callers (the edge among them) reconnect elsewhere and resume from their last sequence,
/// instead of mistaking the end for a completed stream or holding the shutdown up until it times out.
/// </summary>
internal sealed class StreamLifetime(IHostApplicationLifetime lifetime)
{
    public async Task RunAsync(ServerCallContext context, Func<CancellationToken, Task> stream)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken, lifetime.ApplicationStopping);
        try
        {
            await stream(linked.Token);
        }
        catch (OperationCanceledException) when (lifetime.ApplicationStopping.IsCancellationRequested && !context.CancellationToken.IsCancellationRequested)
        {
            throw new RpcException(new Status(StatusCode.Unavailable, "The server is shutting down; reconnect and resume."));
        }
    }
}
