namespace EdgeBridge.Host;

/// <summary>Builds the edge host; <c>Program</c> runs it and tests start it in process.</summary>
public static class EdgeHost
{
    public static WebApplication Create(WebApplicationOptions options, Action<WebApplicationBuilder>? configure = null)
    {
        var builder = WebApplication.CreateBuilder(options);
        configure?.Invoke(builder);

        // Kestrel's endpoint loader does not read Kestrel:Limits; bind them so slow handshakes, header floods and
        // HTTP/2 stream counts are bounded by the values in configuration.
        builder.Services.Configure<Microsoft.AspNetCore.Server.Kestrel.Core.KestrelServerOptions>(
            kestrel => builder.Configuration.GetSection("Kestrel:Limits").Bind(kestrel.Limits));

        // Each named endpoint gets its role (EdgeBridge:Listeners): one trust boundary per listener.
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.UseEdgeBridgeListeners());

        // How long in-flight requests may finish once the edge is stopping (HostOptions:ShutdownTimeout).
        builder.Services.Configure<HostOptions>(builder.Configuration.GetSection("HostOptions"));

        builder.AddEdgeTelemetry();
        // The contracts come from configuration (EdgeBridge:Contracts:DescriptorSets): this host fronts any gRPC backend.
        builder.Services.AddEdgeBridge(builder.Configuration);

        var app = builder.Build();
        app.UseCors();
        // Bearer tokens are the edge's only credentials: anonymous requests skip the authentication they would not need.
        app.UseEdgeBridgeAuthentication();
        app.UseRateLimiter();
        app.UseAuthorization();
        app.MapEdgeBridge();
        app.MapEdgeBridgePages();
        app.MapEdgeBridgeDocuments();
        app.MapEdgeBridgeAdmin();
        app.MapPrometheusScrapingEndpoint("/metrics").RequireEdgeListener(EdgeListenerRoles.Operations);
        return app;
    }
}
