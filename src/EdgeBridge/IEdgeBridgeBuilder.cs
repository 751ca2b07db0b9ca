namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Configures EdgeBridge after <c>AddEdgeBridge</c>.</summary>
public interface IEdgeBridgeBuilder
{
    /// <summary>The host's services.</summary>
    IServiceCollection Services { get; }

    /// <summary>The reverse proxy behind REST and gRPC forwarding, for adding YARP transforms or config providers.</summary>
    IReverseProxyBuilder ReverseProxy { get; }
}
