namespace EdgeBridge.Host;

/// <summary>Builds the edge host; <c>Program</c> runs it and tests start it in process.</summary>
public static class EdgeHost
{
    public static WebApplication Create(WebApplicationOptions options, Action<WebApplicationBuilder>? configure = null)
    {
        var builder = WebApplication.CreateBuilder(options);
        configure?.Invoke(builder);

        // Kestrel's endpoint loader does not read Kestrel:Limits; bind them so slow handshakes and header
        // floods are cut by the values in configuration.
        builder.Services.Configure<Microsoft.AspNetCore.Server.Kestrel.Core.KestrelServerOptions>(
            kestrel => builder.Configuration.GetSection("Kestrel:Limits").Bind(kestrel.Limits));

        builder.AddEdgeTelemetry();
        builder.Services.AddEdgeBridge(builder.Configuration)
            .AddContractAssembly(typeof(Trading.V1.Quote).Assembly);

        var app = builder.Build();
        app.MapEdgeBridge();
        return app;
    }
}
