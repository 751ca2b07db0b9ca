namespace EdgeBridge;

/// <summary>
/// The names EdgeBridge publishes telemetry under, for OpenTelemetry's <c>AddSource</c> and <c>AddMeter</c>.
/// The library only emits; hosts choose the SDK and exporters.
/// </summary>
public static class EdgeBridgeDiagnostics
{
    /// <summary>
    /// The <see cref="System.Diagnostics.ActivitySource"/> of WebSocket subscriptions and their upstream calls.
    /// Each subscription is a span linked to the connection's span and to the upstream call that feeds it; the
    /// upstream call's trace context travels to the backend.
    /// </summary>
    public const string ActivitySourceName = "EdgeBridge";

    /// <summary>The <see cref="System.Diagnostics.Metrics.Meter"/> of connection, subscription and traffic instruments.</summary>
    public const string MeterName = "EdgeBridge";
}
