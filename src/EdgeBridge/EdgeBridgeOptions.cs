namespace EdgeBridge;

/// <summary>Settings of the edge, bound from the <c>EdgeBridge</c> configuration section.</summary>
public sealed record EdgeBridgeOptions
{
    /// <summary>The configuration section the options bind from.</summary>
    public const string SectionName = "EdgeBridge";

    /// <summary>Where the edge's own gRPC calls (readiness, subscriptions) go.</summary>
    public UpstreamOptions Upstream { get; init; } = new();

    /// <summary>How REST requests through the edge are limited and cached.</summary>
    public RestOptions Rest { get; init; } = new();
}

/// <summary>The upstream gRPC service the edge calls itself.</summary>
public sealed record UpstreamOptions
{
    /// <summary>
    /// Id of the reverse-proxy cluster (in the <c>ReverseProxy</c> section) whose destinations serve gRPC
    /// over HTTP/2. The edge's own calls go to its destinations, so addresses are configured once.
    /// </summary>
    public string GrpcCluster { get; init; } = "backend-grpc";

    /// <summary>How long a readiness probe waits for the upstream health service.</summary>
    public TimeSpan HealthCheckTimeout { get; init; } = TimeSpan.FromSeconds(2);
}

/// <summary>Limits and caching of REST requests forwarded by the edge.</summary>
public sealed record RestOptions
{
    /// <summary>Largest accepted request body in bytes; larger bodies answer 413. Does not apply to gRPC.</summary>
    public long MaxRequestBodySize { get; init; } = 1024 * 1024;

    /// <summary>
    /// Largest GET response body in bytes that receives an <c>ETag</c> (the body is hashed); larger bodies pass
    /// through unchanged.
    /// </summary>
    public int MaxETagBodySize { get; init; } = 1024 * 1024;
}
