using EdgeBridge;
using EdgeBridge.Proxy;
using EdgeBridge.Upstream;
using Microsoft.Extensions.Configuration;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers EdgeBridge in a host's services.</summary>
public static class EdgeBridgeServiceCollectionExtensions
{
    /// <summary>
    /// Adds the edge: the reverse proxy configured from the <c>ReverseProxy</c> section and EdgeBridge's own
    /// settings from the <c>EdgeBridge</c> section of <paramref name="configuration"/>.
    /// </summary>
    public static IEdgeBridgeBuilder AddEdgeBridge(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);

        services.AddOptions<EdgeBridgeOptions>().Bind(configuration.GetSection(EdgeBridgeOptions.SectionName));
        services.AddSingleton<UpstreamChannels>();
        var proxy = services.AddReverseProxy()
            .LoadFromConfig(configuration.GetSection("ReverseProxy"))
            .AddTransforms<CachingTransformProvider>();
        return new EdgeBridgeBuilder(services, proxy);
    }

    private sealed class EdgeBridgeBuilder(IServiceCollection services, IReverseProxyBuilder reverseProxy) : IEdgeBridgeBuilder
    {
        public IServiceCollection Services { get; } = services;

        public IReverseProxyBuilder ReverseProxy { get; } = reverseProxy;
    }
}
