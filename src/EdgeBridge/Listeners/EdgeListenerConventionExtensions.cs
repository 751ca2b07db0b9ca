using EdgeBridge;
using EdgeBridge.Listeners;

namespace Microsoft.AspNetCore.Builder;

/// <summary>Binds endpoints to listener roles.</summary>
public static class EdgeListenerConventionExtensions
{
    /// <summary>
    /// Makes the endpoints reachable only through listeners with one of <paramref name="roles"/>
    /// (<c>ListenOptions.UseEdgeBridge</c> or <c>UseEdgeBridgeListeners</c>); on any other listener they do not exist.
    /// </summary>
    public static TBuilder RequireEdgeListener<TBuilder>(this TBuilder builder, EdgeListenerRoles roles)
        where TBuilder : IEndpointConventionBuilder
    {
        ArgumentNullException.ThrowIfNull(builder);
        var metadata = new EdgeListenerMetadata(roles);
        builder.Add(endpoint => endpoint.Metadata.Add(metadata));
        return builder;
    }
}
