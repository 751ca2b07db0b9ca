using EdgeBridge.Upstream;
using EdgeBridge.WebSockets;
using Grpc.Core;
using Grpc.Health.V1;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace EdgeBridge.Health;

/// <summary>Ready when a destination of the upstream gRPC cluster answers <c>grpc.health.v1.Health/Check</c> with SERVING.</summary>
internal sealed class UpstreamHealthCheck(UpstreamChannels channels, IOptionsMonitor<EdgeBridgeOptions> options, TimeProvider time) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var timeout = options.CurrentValue.Upstream.HealthCheckTimeout;
        string? failure = null;
        foreach (var address in channels.Addresses())
        {
            try
            {
                var client = new Grpc.Health.V1.Health.HealthClient(channels.For(address));
                var reply = await client.CheckAsync(new HealthCheckRequest(), deadline: time.GetUtcNow().UtcDateTime + timeout, cancellationToken: cancellationToken);
                if (reply.Status == HealthCheckResponse.Types.ServingStatus.Serving)
                {
                    return HealthCheckResult.Healthy();
                }

                failure = $"{address} reports {reply.Status}";
            }
            catch (RpcException ex)
            {
                failure = $"{address}: {ex.StatusCode} {ex.Status.Detail}";
            }
        }

        return HealthCheckResult.Unhealthy(failure ?? "no upstream destination is configured");
    }
}

/// <summary>Not ready while the edge drains: load balancers stop sending new clients before the sockets are told to go.</summary>
internal sealed class DrainHealthCheck(ConnectionRegistry connections) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(connections.Stopping ? HealthCheckResult.Unhealthy("the edge is draining") : HealthCheckResult.Healthy());
}

/// <summary>Not ready while the contracts are to be read through server reflection and have not been: nothing would be routed.</summary>
internal sealed class ContractsHealthCheck(EdgeBridge.Contracts.Reflection.ReflectedContracts reflected) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(!reflected.Enabled || reflected.InForce
            ? HealthCheckResult.Healthy()
            : HealthCheckResult.Unhealthy($"the contracts are not read through server reflection yet: {reflected.Problem}"));
}
