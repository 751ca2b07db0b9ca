using EdgeBridge.Responses;
using System.Text.Json;
using EdgeBridge.Security;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace EdgeBridge.Health;

/// <summary>
/// <c>/healthz</c>: the process runs. <c>/readyz</c>: every check tagged <see cref="ReadyTag"/> passes (the upstream
/// answers its gRPC health check, the edge is not draining). Both through ASP.NET Core's health checks, answered
/// as <c>{"status":"SERVING"}</c> or <c>{"status":"NOT_SERVING","detail":"…"}</c> (503), like gRPC health.
/// </summary>
internal static class HealthEndpoints
{
    public const string ReadyTag = "ready";

    public static IEndpointConventionBuilder[] Map(IEndpointRouteBuilder endpoints) =>
    [
        endpoints.MapHealthChecks("/healthz", new HealthCheckOptions { Predicate = static _ => false, ResponseWriter = WriteAsync }),
        endpoints.MapHealthChecks("/readyz", new HealthCheckOptions { Predicate = static check => check.Tags.Contains(ReadyTag), ResponseWriter = WriteAsync }),
    ];

    private static Task WriteAsync(HttpContext context, HealthReport report)
    {
        SecurityHeaders.Apply(context);
        context.Response.ContentType = "application/json; charset=utf-8";
        context.Response.Headers.CacheControl = "no-store";
        // Every reason, not the first: an operator fixing one should not discover the next only afterwards.
        var detail = string.Join("; ", report.Entries.Where(e => e.Value.Status != HealthStatus.Healthy)
            .Select(e => $"{e.Key}: {e.Value.Description ?? e.Value.Exception?.Message ?? "unhealthy"}"));
        return context.Response.WriteAsync(report.Status == HealthStatus.Healthy
            ? """{"status":"SERVING"}"""
            : $$"""{"status":"NOT_SERVING","detail":{{JsonSerializer.Serialize(detail.Length > 0 ? detail : "not ready")}}}""");
    }
}
