using EdgeBridge;
using EdgeBridge.Contracts;
using EdgeBridge.Documents;
using EdgeBridge.Proxy;
using EdgeBridge.Security;
using EdgeBridge.Subscriptions;
using EdgeBridge.WebSockets;
using EdgeBridge.Upstream;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

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

        // The host waits this long for in-flight requests before the server aborts them.
        services.AddOptions<HostOptions>().Configure<IOptions<EdgeBridgeOptions>>(
            static (host, edge) => host.ShutdownTimeout = edge.Value.Shutdown.GracePeriod);
        services.AddSingleton<UpstreamChannels>();
        services.AddOptions<ContractOptions>();
        services.AddSingleton<ContractCatalog>();
        services.AddSingleton<UpstreamStreams>();
        services.AddSingleton<ConnectionRegistry>();
        services.AddSingleton<IConfigureOptions<Microsoft.AspNetCore.Server.Kestrel.Core.KestrelServerOptions>, EdgeBridge.WebSockets.DirectUpgradeSetup>();
        services.AddSingleton<TokenValidator>();
        services.AddSingleton<RestRateLimits>();
        services.AddOptions<DescriptorSetOptions>();
        services.AddSingleton<ContractDocuments>();
        services.AddMetrics();
        services.AddSingleton<EdgeBridge.Operations.EdgeBridgeMetrics>();
        services.AddSingleton<EdgeBridge.Operations.PrometheusExporter>();
        services.TryAddSingleton(TimeProvider.System);
        var proxy = services.AddReverseProxy()
            .LoadFromConfig(configuration.GetSection("ReverseProxy"))
            .AddTransforms<CachingTransformProvider>();
        return new EdgeBridgeBuilder(services, proxy);
    }

    /// <summary>
    /// Registers proto files whose server-streaming methods may be exposed as WebSocket subscriptions (those that
    /// carry the <c>edgebridge.v1.stream</c> option). Imports are followed automatically.
    /// </summary>
    public static IEdgeBridgeBuilder AddContract(this IEdgeBridgeBuilder builder, params Google.Protobuf.Reflection.FileDescriptor[] files)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.Configure<ContractOptions>(options => options.Files.AddRange(files));
        return builder;
    }

    /// <summary>
    /// Registers every proto file compiled into <paramref name="assembly"/> (the generated <c>*Reflection</c>
    /// classes), so that a new annotated method in any of them needs no code on the edge.
    /// </summary>
    public static IEdgeBridgeBuilder AddContractAssembly(this IEdgeBridgeBuilder builder, System.Reflection.Assembly assembly)
    {
        ArgumentNullException.ThrowIfNull(assembly);
        var files = assembly.GetExportedTypes()
            .Where(type => type.IsAbstract && type.IsSealed && type.Name.EndsWith("Reflection", StringComparison.Ordinal))
            .Select(type => type.GetProperty("Descriptor", System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Static)?.GetValue(null))
            .OfType<Google.Protobuf.Reflection.FileDescriptor>()
            .ToArray();

        // A descriptor set embedded beside the generated code carries the proto comments into the API documents.
        var sets = ContractDocuments.EmbeddedSets(assembly).ToList();
        builder.Services.Configure<DescriptorSetOptions>(options => options.Sets.AddRange(sets));
        return builder.AddContract(files);
    }

    private sealed class EdgeBridgeBuilder(IServiceCollection services, IReverseProxyBuilder reverseProxy) : IEdgeBridgeBuilder
    {
        public IServiceCollection Services { get; } = services;

        public IReverseProxyBuilder ReverseProxy { get; } = reverseProxy;
    }
}
