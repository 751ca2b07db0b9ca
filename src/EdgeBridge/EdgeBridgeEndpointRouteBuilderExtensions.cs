using EdgeBridge.Documents;
using EdgeBridge.Health;
using EdgeBridge.Operations;
using EdgeBridge.Pages;
using EdgeBridge.Proxy;
using EdgeBridge.Security;
using EdgeBridge.Status;
using EdgeBridge.WebSockets;
using Grpc.Core;
using Microsoft.AspNetCore.Routing;

namespace Microsoft.AspNetCore.Builder;

/// <summary>Maps EdgeBridge's endpoints.</summary>
public static class EdgeBridgeEndpointRouteBuilderExtensions
{
    /// <summary>
    /// Maps <c>/healthz</c>, <c>/readyz</c>, the <c>edgebridge.v1</c> WebSocket endpoint (<c>/ws</c>), the host's pages
    /// (<c>wwwroot</c>, <c>/</c> being <c>index.html</c>) and the reverse proxy (REST and gRPC to the backend, with errors in
    /// each protocol's own terms), and answers everything else with a 404 google.rpc.Status body.
    /// </summary>
    public static IEndpointRouteBuilder MapEdgeBridge(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);

        HealthEndpoints.Map(endpoints);
        WebSocketEndpoint.Map(endpoints);
        PageEndpoints.Map(endpoints);
        DocumentEndpoints.Map(endpoints);
        AdminEndpoints.Map(endpoints);
        PrometheusExporter.Map(endpoints);
        endpoints.MapReverseProxy(pipeline =>
        {
            pipeline.Use(RestTiming.InvokeAsync);
            pipeline.Use(SecurityHeaders.InvokeAsync);
            pipeline.Use(BrowserOrigins.InvokeAsync);
            pipeline.Use(BodyLimits.InvokeAsync);
            pipeline.Use(EdgeIdentity.InvokeAsync);
            pipeline.Use(RestRateLimits.InvokeAsync);
            pipeline.Use(ProxyErrors.InvokeAsync);
            pipeline.UseSessionAffinity();
            pipeline.UseLoadBalancing();
            pipeline.UsePassiveHealthChecks();
        });
        endpoints.MapFallback(static context =>
        {
            SecurityHeaders.Apply(context);
            return RpcStatusWriter.IsGrpc(context.Request)
                ? RpcStatusWriter.WriteAsync(context, StatusCode.Unimplemented, $"No route for {context.Request.Path}.")
                : RpcStatusWriter.WriteAsync(context, StatusCode.NotFound, $"No route matches {context.Request.Method} {context.Request.Path}.");
        });
        return endpoints;
    }
}
