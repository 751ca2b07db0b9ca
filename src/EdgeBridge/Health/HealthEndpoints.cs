using System.Text.Json;
using EdgeBridge.Upstream;
using Grpc.Core;
using Grpc.Health.V1;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace EdgeBridge.Health;

/// <summary><c>/healthz</c>: the process runs. <c>/readyz</c>: an upstream destination answers the gRPC health check.</summary>
internal static class HealthEndpoints
{
    public static void Map(IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet("/healthz", static context => WriteAsync(context, StatusCodes.Status200OK, "SERVING", null));
        endpoints.MapGet("/readyz", static async context =>
        {
            var channels = context.RequestServices.GetRequiredService<UpstreamChannels>();
            var timeout = context.RequestServices.GetRequiredService<IOptionsMonitor<EdgeBridgeOptions>>().CurrentValue.Upstream.HealthCheckTimeout;
            string? failure = null;
            foreach (var address in channels.Addresses())
            {
                try
                {
                    var client = new Grpc.Health.V1.Health.HealthClient(channels.For(address));
                    var reply = await client.CheckAsync(new HealthCheckRequest(), deadline: DateTime.UtcNow + timeout, cancellationToken: context.RequestAborted);
                    if (reply.Status == HealthCheckResponse.Types.ServingStatus.Serving)
                    {
                        await WriteAsync(context, StatusCodes.Status200OK, "SERVING", null);
                        return;
                    }

                    failure = $"{address} reports {reply.Status}";
                }
                catch (RpcException ex)
                {
                    failure = $"{address}: {ex.StatusCode} {ex.Status.Detail}";
                }
            }

            await WriteAsync(context, StatusCodes.Status503ServiceUnavailable, "NOT_SERVING", failure ?? "no upstream destination is configured");
        });
    }

    private static Task WriteAsync(HttpContext context, int status, string state, string? detail)
    {
        Security.SecurityHeaders.Apply(context);
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json; charset=utf-8";
        context.Response.Headers.CacheControl = "no-store";
        return context.Response.WriteAsync(detail is null
            ? $$"""{"status":"{{state}}"}"""
            : $$"""{"status":"{{state}}","detail":{{JsonSerializer.Serialize(detail)}}}""");
    }
}
