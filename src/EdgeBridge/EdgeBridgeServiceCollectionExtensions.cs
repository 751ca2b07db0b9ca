using EdgeBridge;
using EdgeBridge.Contracts;
using EdgeBridge.Diagnostics;
using EdgeBridge.Documents;
using EdgeBridge.Health;
using EdgeBridge.Hosting;
using EdgeBridge.Listeners;
using EdgeBridge.Operations;
using EdgeBridge.Proxy;
using EdgeBridge.Responses;
using EdgeBridge.Security;
using EdgeBridge.Streams;
using EdgeBridge.Upstream;
using EdgeBridge.WebSockets;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Cors.Infrastructure;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers EdgeBridge in a host's services.</summary>
public static class EdgeBridgeServiceCollectionExtensions
{
    /// <summary>
    /// Adds the edge, configured from <paramref name="configuration"/>: EdgeBridge's settings from its
    /// <c>EdgeBridge</c> section (then <paramref name="configure"/>, for settings made in code) and the reverse proxy's
    /// routes and clusters from its <c>ReverseProxy</c> section.
    /// </summary>
    public static IEdgeBridgeBuilder AddEdgeBridge(this IServiceCollection services, IConfiguration configuration, Action<EdgeBridgeOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        var builder = services.AddEdgeBridgeCore(configuration.GetSection(EdgeBridgeOptions.SectionName), configure);
        builder.ReverseProxy.LoadFromConfig(configuration.GetSection("ReverseProxy"));
        return builder;
    }

    /// <summary>
    /// Adds the edge with settings made in code only. Routes and clusters come from a config provider the caller
    /// adds to <see cref="IEdgeBridgeBuilder.ReverseProxy"/> (e.g. YARP's <c>LoadFromMemory</c>).
    /// </summary>
    public static IEdgeBridgeBuilder AddEdgeBridge(this IServiceCollection services, Action<EdgeBridgeOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        return services.AddEdgeBridgeCore(section: null, configure);
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

    private static EdgeBridgeBuilder AddEdgeBridgeCore(this IServiceCollection services, IConfiguration? section, Action<EdgeBridgeOptions>? configure)
    {
        var options = services.AddOptions<EdgeBridgeOptions>();
        if (section is not null)
        {
            options.Bind(section);
        }

        if (configure is not null)
        {
            options.Configure(configure);
        }

        services.AddSingleton<IValidateOptions<EdgeBridgeOptions>>(provider =>
            new EdgeBridgeOptionsValidator(provider.GetRequiredService<Microsoft.Extensions.Hosting.IHostEnvironment>(), section));
        options.ValidateOnStart();
        services.AddSingleton<IOptionsMonitor<EdgeBridgeOptions>, LastGoodOptionsMonitor<EdgeBridgeOptions>>();

        services.TryAddSingleton(TimeProvider.System);
        services.AddMetrics();
        services.AddSingleton<UpstreamChannels>();
        services.AddOptions<ContractOptions>();
        services.AddSingleton<IConfigureOptions<ContractOptions>, DescriptorSets>();

        // After the descriptor sets: a file both give is taken from the set.
        services.AddSingleton<EdgeBridge.Contracts.Reflection.ReflectedContracts>();
        services.AddSingleton<IConfigureOptions<ContractOptions>>(provider => provider.GetRequiredService<EdgeBridge.Contracts.Reflection.ReflectedContracts>());
        services.AddSingleton<ContractSource>();
        services.AddHostedService<ContractFileWatcher>();
        services.AddHostedService<EdgeBridge.Contracts.Reflection.ContractReflection>();
        services.AddSingleton<UpstreamCallBudget>();
        services.AddSingleton<UpstreamStreams>();
        services.AddSingleton<ConnectionRegistry>();
        services.AddSingleton<HandshakeAdmission>();
        services.AddSingleton<EdgeBridge.Upstream.UpstreamCalls>();
        services.AddSingleton<EdgeBridge.Http.StreamTickets>();
        services.AddHostedService<EdgeBridge.Operations.EdgeDrain>();
        services.AddSingleton<EdgeTokens>();
        services.AddSingleton<LoginThrottle>();
        services.AddOptions<DescriptorSetOptions>();
        services.AddSingleton<ContractDocuments>();
        services.AddSingleton<IEdgeBridgeGauges, EdgeBridgeGauges>();
        services.AddSingleton<EdgeBridgeMetrics>();
        services.AddSingleton<EdgeListeners>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<MatcherPolicy, ListenerMatcherPolicy>());

        // The platform's parts, configured from the options: one JwtBearer scheme for every path a token arrives on,
        // authorization and CORS policies that routes name, partitioned rate limiters, health checks.
        services.AddAuthentication().AddJwtBearer(EdgeBridgeDefaults.AuthenticationScheme, _ => { });
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IConfigureOptions<JwtBearerOptions>, JwtBearerSetup>());

        // The edge's scheme authenticates every request unless the host chose another default.
        services.AddOptions<AuthenticationOptions>().PostConfigure(static authentication => authentication.DefaultScheme ??= EdgeBridgeDefaults.AuthenticationScheme);
        services.AddAuthorization();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IConfigureOptions<AuthorizationOptions>, AuthorizationSetup>());
        services.AddCors();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IConfigureOptions<CorsOptions>, CorsSetup>());
        services.AddRateLimiter(static _ => { });
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IConfigureOptions<RateLimiterOptions>, RateLimiterSetup>());
        services.AddHealthChecks()
            .AddCheck<UpstreamHealthCheck>("upstream", tags: [HealthEndpoints.ReadyTag])
            .AddCheck<DrainHealthCheck>("drain", tags: [HealthEndpoints.ReadyTag])
            .AddCheck<ContractsHealthCheck>("contracts", tags: [HealthEndpoints.ReadyTag]);

        var proxy = services.AddReverseProxy()
            .AddTransforms<RouteConventions>()
            .AddTransforms<IdentityTransformProvider>()
            .AddTransforms<SecurityHeadersTransformProvider>()
            .AddTransforms<CachingTransformProvider>();
        return new EdgeBridgeBuilder(services, proxy);
    }

    private sealed class EdgeBridgeBuilder(IServiceCollection services, IReverseProxyBuilder reverseProxy) : IEdgeBridgeBuilder
    {
        public IServiceCollection Services { get; } = services;

        public IReverseProxyBuilder ReverseProxy { get; } = reverseProxy;
    }
}
