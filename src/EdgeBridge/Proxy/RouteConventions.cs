using EdgeBridge.Listeners;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http.Metadata;
using Yarp.ReverseProxy.Configuration;
using Yarp.ReverseProxy.Transforms.Builder;

namespace EdgeBridge.Proxy;

/// <summary>
/// What every proxied route gets unless its configuration says otherwise: the listeners it exists on
/// (<see cref="EdgeBridgeDefaults.ListenerMetadata"/>, Browser by default), the rate limiter and CORS policies of its
/// kind, and its kind's body limit. The platform's middleware enforces them, as for any endpoint; the caller is
/// checked in the proxy pipeline (<see cref="Security.CallerChecks"/>).
/// </summary>
internal sealed class RouteConventions : ITransformProvider
{
    public static void Apply(IEndpointConventionBuilder endpoint, RouteConfig route, EdgeBridgeOptions options)
    {
        var roles = RolesOf(route) ?? EdgeListenerRoles.Browser;

        // A route that browsers can reach keeps the browser's limits even when it also serves gRPC: the kind of a
        // request is never taken from its content type, which the client chooses.
        var grpc = roles.HasFlag(EdgeListenerRoles.Grpc) && !roles.HasFlag(EdgeListenerRoles.Browser);
        endpoint.RequireEdgeListener(roles);
        if (route.RateLimiterPolicy is null)
        {
            endpoint.RequireRateLimiting(grpc ? EdgeBridgeDefaults.GrpcRateLimiterPolicy : EdgeBridgeDefaults.RestRateLimiterPolicy);
        }

        if (route.CorsPolicy is null && roles.HasFlag(EdgeListenerRoles.Browser))
        {
            endpoint.RequireCors(EdgeBridgeDefaults.CorsPolicy);
        }

        if (route.MaxRequestBodySize is null)
        {
            // gRPC bodies are limited per message instead (GrpcMessageLimits): a client stream may run for hours.
            endpoint.WithMetadata(new BodySizeLimit(grpc ? null : options.Rest.MaxRequestBodySize));
        }

        if (grpc)
        {
            endpoint.WithMetadata(GrpcMessageLimits.Metadata);
        }
    }

    /// <summary>The roles named by the route's <see cref="EdgeBridgeDefaults.ListenerMetadata"/>; null when it names none.</summary>
    public static EdgeListenerRoles? RolesOf(RouteConfig route) =>
        route.Metadata?.TryGetValue(EdgeBridgeDefaults.ListenerMetadata, out var value) == true
        && Enum.TryParse<EdgeListenerRoles>(value, ignoreCase: true, out var roles) && roles != EdgeListenerRoles.None
        && (roles & ~(EdgeListenerRoles.Browser | EdgeListenerRoles.Grpc | EdgeListenerRoles.Operations)) == 0
            ? roles
            : null;

    // YARP validates routes on every load: a route naming no known role is refused with its config, not later.
    public void ValidateRoute(TransformRouteValidationContext context)
    {
        if (context.Route.Metadata?.ContainsKey(EdgeBridgeDefaults.ListenerMetadata) == true && RolesOf(context.Route) is null)
        {
            context.Errors.Add(new ArgumentException(
                $"Route '{context.Route.RouteId}': metadata {EdgeBridgeDefaults.ListenerMetadata} must name one or more of Browser, Grpc, Operations (was '{context.Route.Metadata[EdgeBridgeDefaults.ListenerMetadata]}')."));
        }
    }

    public void ValidateCluster(TransformClusterValidationContext context)
    {
    }

    public void Apply(TransformBuilderContext context)
    {
    }

    /// <summary>The route's body limit, applied by ASP.NET Core's routing before the request is forwarded.</summary>
    private sealed record BodySizeLimit(long? MaxRequestBodySize) : IRequestSizeLimitMetadata;
}
