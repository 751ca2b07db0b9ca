using OpenTelemetry;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Trading.Backend.Hosting;

/// <summary>
/// OpenTelemetry for the backend: a span per REST and gRPC request, continuing the trace context the edge
/// sends. Exported over OTLP when <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is set.
/// </summary>
internal static class BackendTelemetry
{
    public static void AddBackendTelemetry(this WebApplicationBuilder builder)
    {
        var otlp = !string.IsNullOrWhiteSpace(builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]);
        var telemetry = builder.Services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService(builder.Configuration["OTEL_SERVICE_NAME"] ?? "trading-backend"));

        // Spans are recorded only when they go somewhere (a stream's span is held for as long as the stream).
        if (builder.Configuration.GetValue("Telemetry:Tracing", defaultValue: otlp))
        {
            telemetry.WithTracing(tracing => tracing.AddAspNetCoreInstrumentation());
        }

        if (otlp)
        {
            telemetry.UseOtlpExporter();
        }
    }
}
