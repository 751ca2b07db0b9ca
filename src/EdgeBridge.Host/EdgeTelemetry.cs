using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace EdgeBridge.Host;

/// <summary>
/// OpenTelemetry for the edge: spans for REST and gRPC requests (ASP.NET Core), their forwarding (YARP,
/// HttpClient) and WebSocket subscriptions with their upstream calls (EdgeBridge). Exported over OTLP when
/// <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is set; <c>/metrics</c> serves Prometheus text either way (OpenTelemetry's
/// Prometheus exporter: EdgeBridge's meter, ASP.NET Core's request durations and Kestrel's connections).
/// </summary>
internal static class EdgeTelemetry
{
    public static void AddEdgeTelemetry(this WebApplicationBuilder builder)
    {
        var otlp = !string.IsNullOrWhiteSpace(builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]);
        var telemetry = builder.Services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService(builder.Configuration["OTEL_SERVICE_NAME"] ?? "edgebridge"))
            .WithMetrics(metrics => metrics
                .AddMeter(EdgeBridgeDiagnostics.MeterName, "Microsoft.AspNetCore.Hosting", "Microsoft.AspNetCore.Server.Kestrel")
                .AddPrometheusExporter());

        // Spans are recorded only when they go somewhere. An open span is memory: the /ws request's and each
        // subscription's live as long as the socket (about 1.5 KB per idle connection, docs/benchmarks.md).
        if (builder.Configuration.GetValue("Telemetry:Tracing", defaultValue: otlp))
        {
            // Grpc.Net.Client's own span sits between an upstream call and its HTTP request; without it the
            // exported trace would break there.
            telemetry.WithTracing(tracing => tracing
                .AddSource(EdgeBridgeDiagnostics.ActivitySourceName, "Yarp.ReverseProxy", "Grpc.Net.Client")
                .AddAspNetCoreInstrumentation(aspNetCore => aspNetCore.Filter = static context => !IsProbe(context.Request.Path))
                .AddHttpClientInstrumentation());
        }

        if (otlp)
        {
            telemetry.UseOtlpExporter();
        }
    }

    // Health probes and metric scrapes arrive every few seconds and say nothing about users.
    private static bool IsProbe(PathString path) =>
        path.StartsWithSegments("/healthz") || path.StartsWithSegments("/readyz") || path.StartsWithSegments("/metrics");
}
