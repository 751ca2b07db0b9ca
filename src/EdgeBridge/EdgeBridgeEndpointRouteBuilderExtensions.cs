using EdgeBridge;
using EdgeBridge.Documents;
using EdgeBridge.Responses;
using EdgeBridge.Health;
using EdgeBridge.Operations;
using EdgeBridge.Pages;
using EdgeBridge.Proxy;
using EdgeBridge.Security;
using EdgeBridge.WebSockets;
using Grpc.Core;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Microsoft.AspNetCore.Builder;

/// <summary>Maps EdgeBridge's endpoints.</summary>
public static class EdgeBridgeEndpointRouteBuilderExtensions
{
    /// <summary>
    /// Maps the edge: <c>/healthz</c> and <c>/readyz</c>, the <c>edgebridge.v1</c> WebSocket endpoint, the contract's
    /// methods over the Connect protocol and gRPC-Web (<see cref="RpcOptions"/>), the reverse
    /// proxy (REST and gRPC to the backend, each route bound to its listeners, its caller checked
    /// (a presented token must hold; <c>AUTH_REQUIRED</c> methods need one), guarded by the platform's CORS, rate
    /// limiting and any authorization policy the route names, errors in each protocol's own terms), and a fallback that answers
    /// everything else with a 404 google.rpc.Status (UNIMPLEMENTED for gRPC). Needs <c>UseCors</c>,
    /// <c>UseAuthentication</c> (or <see cref="EdgeBridgeApplicationBuilderExtensions.UseEdgeBridgeAuthentication"/>),
    /// <c>UseRateLimiter</c> and <c>UseAuthorization</c> in the pipeline, in that order.
    /// </summary>
    /// <returns>A builder whose conventions apply to every endpoint mapped here.</returns>
    public static EdgeBridgeEndpointConventionBuilder MapEdgeBridge(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);

        var options = endpoints.ServiceProvider.GetRequiredService<IOptionsMonitor<EdgeBridgeOptions>>();

        // Built now, not at the first request: a contract or an EdgeBridge:Contracts:Expose entry that does not hold stops the host.
        var contracts = endpoints.ServiceProvider.GetRequiredService<EdgeBridge.Contracts.ContractSource>();
        var builders = new List<IEndpointConventionBuilder>(HealthEndpoints.Map(endpoints))
        {
            WebSocketEndpoint.Map(endpoints).RequireEdgeListener(EdgeListenerRoles.Browser),
            EdgeBridge.Http.HttpStreamEndpoint.Map(endpoints).RequireEdgeListener(EdgeListenerRoles.Browser).RequireCors(EdgeBridgeDefaults.CorsPolicy),
        };

        if (options.CurrentValue.Rpc.Enabled)
        {
            builders.Add(EdgeBridge.Rpc.RpcEndpoint.Map(endpoints).RequireEdgeListener(EdgeListenerRoles.Browser));
        }

        var proxy = endpoints.MapReverseProxy(pipeline =>
        {
            // First, where authorization would run: nothing is read from a request whose token does not hold.
            pipeline.Use(next => new CallerChecks(next, contracts, options.CurrentValue.Tokens.Enabled).InvokeAsync);

            // The RequestDelegate overload of Use: the Func<Task> one allocates a closure and a delegate per request
            // and step (about 280 B of a proxied request's allocations, measured with the harness's load command).
            pipeline.Use(BrowserOrigins.GuardAsync);
            pipeline.Use(CredentialChecks.InvokeAsync);
            pipeline.Use(GrpcMessageLimits.InvokeAsync);
            pipeline.Use(ProxyErrors.InvokeAsync);
            pipeline.UseSessionAffinity();
            pipeline.UseLoadBalancing();
            pipeline.UsePassiveHealthChecks();
        });
        proxy.ConfigureEndpoints((endpoint, route) => RouteConventions.Apply(endpoint, route, options.CurrentValue));
        builders.Add(proxy);

        // Every path, file-like ones too (the default fallback pattern skips those and leaves an empty 404).
        static Task NotFound(Microsoft.AspNetCore.Http.HttpContext context)
        {
            SecurityHeaders.Apply(context);
            return RpcStatusWriter.IsGrpc(context)
                ? RpcStatusWriter.WriteAsync(context, StatusCode.Unimplemented, $"No route for {context.Request.Path}.")
                : RpcStatusWriter.WriteAsync(context, StatusCode.NotFound, $"No route matches {context.Request.Method} {context.Request.Path}.");
        }

        if (options.CurrentValue.Rest.Transcode)
        {
            // A REST request no route takes, for a method with an http rule: transcoded here (backends that do not transcode).
            builders.Add(EdgeBridge.Transcoding.TranscodingEndpoint.Map(endpoints, NotFound).RequireEdgeListener(EdgeListenerRoles.Browser));
        }

        builders.Add(endpoints.MapFallback("/{**path}", NotFound));
        return new EdgeBridgeEndpointConventionBuilder(builders);
    }

    /// <summary>
    /// Maps the host's pages: its <c>wwwroot</c> (top-level files only; <c>/</c> is <c>index.html</c>) with a self-only
    /// Content-Security-Policy, on Browser listeners.
    /// </summary>
    public static IEndpointConventionBuilder MapEdgeBridgePages(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        return PageEndpoints.Map(endpoints).RequireEdgeListener(EdgeListenerRoles.Browser);
    }

    /// <summary>
    /// Maps the API documents generated from the contract — <c>/openapi/v1.json</c>, <c>/asyncapi/v1.json</c> — and the
    /// offline <c>/docs</c> page that renders both, on Browser listeners; allowed origins may read the documents.
    /// </summary>
    public static IEndpointConventionBuilder MapEdgeBridgeDocuments(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        return DocumentEndpoints.Map(endpoints).RequireEdgeListener(EdgeListenerRoles.Browser);
    }

    /// <summary>
    /// Maps the operator's view of live connections (<c>/admin/connections</c>, behind
    /// <see cref="AdminOptions.ApiKey"/>), on Operations listeners.
    /// </summary>
    public static IEndpointConventionBuilder MapEdgeBridgeAdmin(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        return AdminEndpoints.Map(endpoints).RequireEdgeListener(EdgeListenerRoles.Operations);
    }
}

/// <summary>Applies conventions to every endpoint a <c>MapEdgeBridge…</c> call mapped.</summary>
public sealed class EdgeBridgeEndpointConventionBuilder : IEndpointConventionBuilder
{
    private readonly IReadOnlyList<IEndpointConventionBuilder> _builders;

    internal EdgeBridgeEndpointConventionBuilder(IReadOnlyList<IEndpointConventionBuilder> builders) => _builders = builders;

    /// <inheritdoc />
    public void Add(Action<EndpointBuilder> convention)
    {
        foreach (var builder in _builders)
        {
            builder.Add(convention);
        }
    }

    /// <inheritdoc />
    public void Finally(Action<EndpointBuilder> finallyConvention)
    {
        foreach (var builder in _builders)
        {
            builder.Finally(finallyConvention);
        }
    }
}
