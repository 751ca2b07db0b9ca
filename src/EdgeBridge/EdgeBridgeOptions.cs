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

    /// <summary>Limits and timings of the <c>edgebridge.v1</c> WebSocket endpoint.</summary>
    public WebSocketOptions WebSockets { get; init; } = new();

    /// <summary>How the edge validates the access tokens it receives.</summary>
    public TokenOptions Tokens { get; init; } = new();

    /// <summary>Browser-facing protections: origins allowed to open sockets and call REST cross-site.</summary>
    public BrowserOptions Browser { get; init; } = new();

    /// <summary>The operator's view of live connections.</summary>
    public AdminOptions Admin { get; init; } = new();

    /// <summary>How the edge drains when it stops.</summary>
    public ShutdownOptions Shutdown { get; init; } = new();
}

/// <summary>
/// Graceful drain. When the edge stops it stops accepting connections, tells every WebSocket client to reconnect
/// elsewhere (close 1001), lets in-flight REST and gRPC requests finish for up to <see cref="GracePeriod"/>,
/// then aborts what is left, which cancels its upstream calls.
/// </summary>
public sealed record ShutdownOptions
{
    /// <summary>How long in-flight requests may take to finish once the edge is stopping. Read at startup.</summary>
    public TimeSpan GracePeriod { get; init; } = TimeSpan.FromSeconds(30);
}

/// <summary>The admin endpoints (<c>/admin/connections</c>).</summary>
public sealed record AdminOptions
{
    /// <summary>Key operators present in <c>x-edgebridge-admin-key</c>; empty disables the admin endpoints.</summary>
    public string ApiKey { get; init; } = "";
}

/// <summary>
/// Validation of bearer tokens (HS256 JWTs) at the edge, before anything is forwarded or any upstream call opens.
/// The backend stays the authority on what a caller may do; the edge keeps forged, expired and foreign tokens out.
/// </summary>
public sealed record TokenOptions
{
    /// <summary>Turns validation off: tokens pass to the backend unchecked. For development against a backend that validates them itself.</summary>
    public bool Enabled { get; init; } = true;

    /// <summary>The <c>iss</c> every token must carry.</summary>
    public string Issuer { get; init; } = "";

    /// <summary>The <c>aud</c> every token must carry.</summary>
    public string Audience { get; init; } = "";

    /// <summary>Base64 HMAC-SHA256 key of at least 32 bytes, shared with the token issuer.</summary>
    public string SigningKey { get; init; } = "";

    /// <summary>File holding the base64 key; used when <see cref="SigningKey"/> is empty.</summary>
    public string SigningKeyFile { get; init; } = "";

    /// <summary>Tolerated clock difference with the issuer.</summary>
    public TimeSpan ClockSkew { get; init; } = TimeSpan.FromSeconds(30);
}

/// <summary>Protections for browser clients.</summary>
public sealed record BrowserOptions
{
    /// <summary>
    /// Origins (<c>scheme://host[:port]</c>) besides the edge's own that may open WebSockets and call REST from a
    /// browser. Any other <c>Origin</c> is refused with 403 before the upgrade or the request is forwarded.
    /// </summary>
    public IReadOnlyList<string> AllowedOrigins { get; init; } = [];

    /// <summary>How long browsers may cache a CORS preflight answer.</summary>
    public TimeSpan PreflightMaxAge { get; init; } = TimeSpan.FromMinutes(10);
}

/// <summary>Limits and timings of the <c>edgebridge.v1</c> WebSocket endpoint. Every limit has a safe default.</summary>
public sealed record WebSocketOptions
{
    /// <summary>Path of the endpoint.</summary>
    public string Path { get; init; } = "/ws";

    /// <summary>Largest inbound frame in bytes; a larger one closes the connection with 1009.</summary>
    public int MaxFrameBytes { get; init; } = 64 * 1024;

    /// <summary>Most active subscriptions on one connection; one more answers RESOURCE_EXHAUSTED.</summary>
    public int MaxSubscriptionsPerConnection { get; init; } = 100;

    /// <summary>Sustained inbound frames per second; exceeding it (beyond the burst) closes with 4429.</summary>
    public int MaxInboundFramesPerSecond { get; init; } = 100;

    /// <summary>Frames a client may send at once above the sustained rate, e.g. a page subscribing everything at start.</summary>
    public int InboundFrameBurst { get; init; } = 200;

    /// <summary>Rejected (malformed) frames a connection may send before it is closed with 4400.</summary>
    public int MaxMalformedFrames { get; init; } = 20;

    /// <summary>How long a new connection has to send <c>init</c>; then it is closed with 4408.</summary>
    public TimeSpan InitTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>After this long without an inbound frame the server sends <c>ping</c>.</summary>
    public TimeSpan KeepAliveInterval { get; init; } = TimeSpan.FromSeconds(20);

    /// <summary>A connection silent for this long after a <c>ping</c> is considered vanished and closed.</summary>
    public TimeSpan KeepAliveTimeout { get; init; } = TimeSpan.FromSeconds(20);

    /// <summary>Queue bound for methods whose option does not set one.</summary>
    public int DefaultQueueLimit { get; init; } = 256;

    /// <summary>Upper bound on any method's queue limit, whatever its option says.</summary>
    public int MaxQueueLimit { get; init; } = 8192;

    /// <summary>Control frames (acks, errors, pongs) that may wait for a client that does not read; then 4429.</summary>
    public int MaxPendingControlFrames { get; init; } = 256;

    /// <summary>
    /// Frames queued for one socket are written together, up to this many bytes per write; 0 writes each frame
    /// on its own.
    /// </summary>
    public int MaxWriteBatchBytes { get; init; } = 32 * 1024;

    /// <summary>
    /// Whether plain HTTP/1.1 upgrades to <see cref="Path"/> are taken at the connection level, before Kestrel's HTTP
    /// layer, so that an accepted socket holds no HTTP request state (about half the memory of an idle connection).
    /// Anything else still goes through the HTTP endpoint. Read per connection, so it can be switched live.
    /// </summary>
    public bool DirectUpgrade { get; init; } = true;

    /// <summary>How long a closing connection waits for the client's close frame before aborting.</summary>
    public TimeSpan CloseTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Concurrent WebSocket connections on this edge; beyond it upgrades answer 503.</summary>
    public int MaxConnections { get; init; } = 10_000;

    /// <summary>Concurrent WebSocket connections from one client address; beyond it upgrades answer 429.</summary>
    public int MaxConnectionsPerAddress { get; init; } = 50;
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

    /// <summary>Requests per second (with a burst) one client address may send; beyond it 429 with Retry-After.</summary>
    public RateLimit PerAddress { get; init; } = new() { PermitsPerSecond = 100, Burst = 200 };

    /// <summary>Requests per second (with a burst) one authenticated user may send, from any address.</summary>
    public RateLimit PerUser { get; init; } = new() { PermitsPerSecond = 50, Burst = 100 };
}

/// <summary>A token-bucket rate: <see cref="PermitsPerSecond"/> sustained, <see cref="Burst"/> at once. Zero disables it.</summary>
public sealed record RateLimit
{
    /// <summary>Sustained requests per second.</summary>
    public int PermitsPerSecond { get; init; }

    /// <summary>Requests allowed at once above the sustained rate.</summary>
    public int Burst { get; init; }
}
