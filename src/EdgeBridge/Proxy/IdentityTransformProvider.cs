using EdgeBridge.Security;
using Yarp.ReverseProxy.Transforms;
using Yarp.ReverseProxy.Transforms.Builder;

namespace EdgeBridge.Proxy;

/// <summary>
/// Owns the request headers that carry identity past the edge (<c>x-edgebridge-*</c>): whatever a client sent under
/// that prefix is removed from every forwarded request, and <c>x-edgebridge-user</c> is set from the token the edge
/// validated, so a backend that trusts the edge can trust the header.
/// </summary>
internal sealed class IdentityTransformProvider : ITransformProvider
{
    /// <summary>Every request header with this prefix is the edge's own.</summary>
    public const string HeaderPrefix = "x-edgebridge-";

    /// <summary>The validated token's subject.</summary>
    public const string UserHeader = "x-edgebridge-user";

    public void ValidateRoute(TransformRouteValidationContext context)
    {
    }

    public void ValidateCluster(TransformClusterValidationContext context)
    {
    }

    public void Apply(TransformBuilderContext context) => context.AddRequestTransform(static transform =>
    {
        var headers = transform.ProxyRequest.Headers;
        foreach (var header in transform.HttpContext.Request.Headers)
        {
            if (header.Key.StartsWith(HeaderPrefix, StringComparison.OrdinalIgnoreCase))
            {
                headers.Remove(header.Key);
            }
        }

        if (Callers.Subject(transform.HttpContext) is { } subject)
        {
            headers.TryAddWithoutValidation(UserHeader, subject);
        }

        return ValueTask.CompletedTask;
    });
}
