using EdgeBridge.Responses;
using Yarp.ReverseProxy.Transforms;
using Yarp.ReverseProxy.Transforms.Builder;

namespace EdgeBridge.Proxy;

/// <summary>
/// Every forwarded response gets the API headers, as a response transform of every route (the edge's own answers
/// get them from <c>RpcStatusWriter</c>): no per-request callback to register.
/// </summary>
internal sealed class SecurityHeadersTransformProvider : ITransformProvider
{
    public void ValidateRoute(TransformRouteValidationContext context)
    {
    }

    public void ValidateCluster(TransformClusterValidationContext context)
    {
    }

    public void Apply(TransformBuilderContext context) => context.AddResponseTransform(static transform =>
    {
        SecurityHeaders.ApplyOnce(transform.HttpContext);
        return ValueTask.CompletedTask;
    });
}
