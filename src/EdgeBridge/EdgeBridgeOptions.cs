namespace EdgeBridge;

/// <summary>
/// Settings of the edge, bound from the <c>EdgeBridge</c> configuration section and settable in code
/// (<c>AddEdgeBridge(configuration, options =&gt; …)</c>). Validated when the host starts: a bad value stops it with a
/// message naming the key. Unless a property says otherwise, a change in configuration applies to what starts next
/// (a new connection, subscription or request).
/// </summary>
public sealed class EdgeBridgeOptions
{
    /// <summary>The configuration section the options bind from.</summary>
    public const string SectionName = "EdgeBridge";

    /// <summary>
    /// The role of each Kestrel endpoint, by its name in <c>Kestrel:Endpoints</c>: what may be reached through it.
    /// A connection on an endpoint that is not listed is treated as <see cref="EdgeListenerRoles.Browser"/>.
    /// </summary>
    public Dictionary<string, EdgeListenerOptions> Listeners { get; set; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Where the edge's own gRPC calls (readiness, subscriptions) go, and how many it may open.</summary>
    public UpstreamOptions Upstream { get; set; } = new();

    /// <summary>How REST requests through the edge are limited and cached.</summary>
    public RestOptions Rest { get; set; } = new();

    /// <summary>How gRPC calls forwarded by the edge are limited.</summary>
    public GrpcOptions Grpc { get; set; } = new();

    /// <summary>Limits and timings of the <c>edgebridge.v1</c> WebSocket endpoint.</summary>
    public EdgeWebSocketOptions WebSockets { get; set; } = new();

    /// <summary>Server streams over plain HTTP: server-sent events and NDJSON.</summary>
    public HttpStreamOptions Streams { get; set; } = new();

    /// <summary>The Connect protocol and gRPC-Web for browsers and HTTP/1.1 clients: the contract's methods at <c>/{package.Service}/{Method}</c>.</summary>
    public RpcOptions Rpc { get; set; } = new();

    /// <summary>How the edge validates the access tokens it receives.</summary>
    public TokenOptions Tokens { get; set; } = new();

    /// <summary>How failed logins are throttled.</summary>
    public LoginOptions Logins { get; set; } = new();

    /// <summary>Browser-facing protections: origins allowed to open sockets and call REST cross-site.</summary>
    public BrowserOptions Browser { get; set; } = new();

    /// <summary>The operator's view of live connections.</summary>
    public AdminOptions Admin { get; set; } = new();

    /// <summary>Contracts as configuration adds to them (<c>EdgeBridge:Contracts</c>).</summary>
    public EdgeContractsOptions Contracts { get; set; } = new();
}

/// <summary>What may be reached through a listener. A route or endpoint bound to none of a listener's roles does not exist there.</summary>
[Flags]
public enum EdgeListenerRoles
{
    /// <summary>Nothing.</summary>
    None = 0,

    /// <summary>Browsers: REST routes, the WebSocket endpoint, pages and documents.</summary>
    Browser = 1,

    /// <summary>Internal services: gRPC forwarded to the backend.</summary>
    Grpc = 2,

    /// <summary>Operators: metrics and the admin view.</summary>
    Operations = 4,
}

/// <summary>One listener (a named Kestrel endpoint).</summary>
public sealed class EdgeListenerOptions
{
    /// <summary>What the listener serves, e.g. <c>"Browser, Operations"</c>.</summary>
    public EdgeListenerRoles Roles { get; set; } = EdgeListenerRoles.Browser;

    /// <summary>
    /// Whether plain HTTP/1.1 upgrades to the WebSocket path are taken at the connection level, before Kestrel's HTTP
    /// layer, so that an accepted socket holds no HTTP request state (about half the memory of an idle connection).
    /// Anything else still goes through the HTTP endpoint. Needs the <see cref="EdgeListenerRoles.Browser"/> role and
    /// a listener without TLS in Kestrel; read per connection, so it can be switched off live.
    /// </summary>
    public bool DirectUpgrade { get; set; }

    /// <summary>
    /// Whether every connection on this listener starts with a PROXY protocol v2 header from the load balancer
    /// (HAProxy's <c>send-proxy-v2</c>): the client address it names is the one every per-address limit and log uses.
    /// A connection without a valid header is closed. Needs <see cref="TrustedProxies"/>. Read at startup.
    /// </summary>
    public bool ProxyProtocol { get; set; }

    /// <summary>
    /// With <see cref="ProxyProtocol"/>, the balancers' addresses or networks (<c>10.0.0.5</c>, <c>10.0.0.0/24</c>):
    /// a connection from any other peer is closed before its header is read, so a client that reaches the listener
    /// directly cannot name itself any address. Required when <see cref="ProxyProtocol"/> is on. Read at startup.
    /// </summary>
    public List<string> TrustedProxies { get; set; } = [];
}

/// <summary>The upstream gRPC service the edge calls itself.</summary>
public sealed class UpstreamOptions
{
    /// <summary>
    /// Id of the reverse-proxy cluster (in the <c>ReverseProxy</c> section) whose destinations serve gRPC
    /// over HTTP/2. The edge's own calls go to its destinations, so addresses are configured once.
    /// </summary>
    public string GrpcCluster { get; set; } = "backend-grpc";

    /// <summary>How long a readiness probe waits for the upstream health service.</summary>
    public TimeSpan HealthCheckTimeout { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Upstream calls the edge's subscriptions may hold open at once; beyond it <c>subscribe</c> answers RESOURCE_EXHAUSTED.</summary>
    public int MaxCalls { get; set; } = 20_000;

    /// <summary>Upstream calls the subscriptions of one client address may hold open at once. Joining a shared call costs none.</summary>
    public int MaxCallsPerAddress { get; set; } = 200;

    /// <summary>Upstream calls the subscriptions of one user may hold open at once, from any address.</summary>
    public int MaxCallsPerUser { get; set; } = 100;

    /// <summary>
    /// How long a subscription's upstream call that broke with UNAVAILABLE (its replica died or drained) is re-opened
    /// on the next available replica before its subscribers get the error; zero ends them at once. A re-opened call
    /// continues from its method's cursor (<c>edgebridge.v1.stream</c> <c>resume</c>), so subscribers see no gap.
    /// </summary>
    public TimeSpan FailoverGracePeriod { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>The wait before the first re-open; it doubles after each failed one, up to <see cref="FailoverMaxBackoff"/>.</summary>
    public TimeSpan FailoverBackoff { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>The longest wait between two re-opens.</summary>
    public TimeSpan FailoverMaxBackoff { get; set; } = TimeSpan.FromSeconds(2);
}

/// <summary>Limits and caching of REST requests forwarded by the edge.</summary>
public sealed class RestOptions
{
    /// <summary>Largest accepted request body in bytes; larger bodies answer 413.</summary>
    public long MaxRequestBodySize { get; set; } = 1024 * 1024;

    /// <summary>
    /// Largest GET response body in bytes that receives an <c>ETag</c> (the body is hashed); larger bodies pass
    /// through unchanged.
    /// </summary>
    public int MaxETagBodySize { get; set; } = 1024 * 1024;

    /// <summary>Requests per second (with a burst) one client address may send; beyond it 429 with Retry-After.</summary>
    public RateLimit PerAddress { get; set; } = new() { PermitsPerSecond = 100, Burst = 200 };

    /// <summary>
    /// Whether a REST request that no proxy route takes, but that matches a <c>google.api.http</c> rule of the
    /// contracts, is transcoded at the edge into the method's gRPC call (for backends that do not transcode). Read at startup.
    /// </summary>
    public bool Transcode { get; set; } = true;

    /// <summary>Requests per second (with a burst) one authenticated user may send, from any address.</summary>
    public RateLimit PerUser { get; set; } = new() { PermitsPerSecond = 50, Burst = 100 };
}

/// <summary>Limits of gRPC calls forwarded by the edge (its gRPC listener's own limits).</summary>
public sealed class GrpcOptions
{
    /// <summary>Largest message a client may send in a call, in bytes; a larger one ends the call with RESOURCE_EXHAUSTED.</summary>
    public int MaxMessageBytes { get; set; } = 4 * 1024 * 1024;

    /// <summary>Calls per second (with a burst) one client address may start; beyond it RESOURCE_EXHAUSTED.</summary>
    public RateLimit PerAddress { get; set; } = new() { PermitsPerSecond = 200, Burst = 400 };

    /// <summary>Calls per second (with a burst) one authenticated user may start, from any address.</summary>
    public RateLimit PerUser { get; set; } = new() { PermitsPerSecond = 100, Burst = 200 };
}

/// <summary>A token-bucket rate: <see cref="PermitsPerSecond"/> sustained, <see cref="Burst"/> at once. Zero disables it.</summary>
public sealed class RateLimit
{
    /// <summary>Sustained requests per second.</summary>
    public int PermitsPerSecond { get; set; }

    /// <summary>Requests allowed at once above the sustained rate.</summary>
    public int Burst { get; set; }
}

/// <summary>
/// Validation of bearer tokens (HS256 JWTs) at the edge, before anything is forwarded or any upstream call opens.
/// The backend stays the authority on what a caller may do; the edge keeps forged, expired and foreign tokens out.
/// </summary>
public sealed class TokenOptions
{
    /// <summary>Turns validation off: tokens pass to the backend unchecked. For development against a backend that validates them itself.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>The <c>iss</c> every token must carry.</summary>
    public string Issuer { get; set; } = "";

    /// <summary>The <c>aud</c> every token must carry.</summary>
    public string Audience { get; set; } = "";

    /// <summary>Base64 HMAC-SHA256 key of at least 32 bytes, shared with the token issuer.</summary>
    public string SigningKey { get; set; } = "";

    /// <summary>File holding the base64 key, relative to the content root; used when <see cref="SigningKey"/> is empty.</summary>
    public string SigningKeyFile { get; set; } = "";

    /// <summary>Tolerated clock difference with the issuer.</summary>
    public TimeSpan ClockSkew { get; set; } = TimeSpan.FromSeconds(30);
}

/// <summary>
/// Throttling of failed logins on every path to a method the contract marks as a credential check
/// (<c>edgebridge.v1.credentials</c>). Each failure costs the backend a password hash; beyond these limits the edge
/// answers 429 / RESOURCE_EXHAUSTED without calling it.
/// </summary>
public sealed class LoginOptions
{
    /// <summary>Failures allowed for one user name from one address.</summary>
    public FailureLimit PerUserAtAddress { get; set; } = new() { Failures = 5, Window = TimeSpan.FromMinutes(5) };

    /// <summary>Failures allowed from one address, whatever the user names.</summary>
    public FailureLimit PerAddress { get; set; } = new() { Failures = 20, Window = TimeSpan.FromMinutes(5) };

    /// <summary>
    /// Failures allowed for one user name from every address together. An address the user has logged in from
    /// successfully before is exempt, so that failures from elsewhere cannot lock the user out of it.
    /// </summary>
    public FailureLimit PerUser { get; set; } = new() { Failures = 50, Window = TimeSpan.FromMinutes(5) };

    /// <summary>How long an address stays known for a user after a successful login there.</summary>
    public TimeSpan KnownAddressLifetime { get; set; } = TimeSpan.FromDays(30);

    /// <summary>Most user names, addresses and pairs tracked at once; beyond it the oldest are forgotten first.</summary>
    public int MaxTracked { get; set; } = 100_000;
}

/// <summary>At most <see cref="Failures"/> failures per <see cref="Window"/>, regained evenly over the window. Zero failures disables it.</summary>
public sealed class FailureLimit
{
    /// <summary>Failures allowed within the window.</summary>
    public int Failures { get; set; }

    /// <summary>The window over which the allowance refills.</summary>
    public TimeSpan Window { get; set; }
}

/// <summary>Protections for browser clients.</summary>
public sealed class BrowserOptions
{
    /// <summary>
    /// Origins (<c>scheme://host[:port]</c>) besides the edge's own that may open WebSockets and call REST from a
    /// browser. Any other <c>Origin</c> is refused with 403 before the upgrade or the request is forwarded.
    /// </summary>
    public List<string> AllowedOrigins { get; set; } = [];

    /// <summary>How long browsers may cache a CORS preflight answer. Read at startup.</summary>
    public TimeSpan PreflightMaxAge { get; set; } = TimeSpan.FromMinutes(10);
}

/// <summary>The admin endpoints (<c>/admin/connections</c>).</summary>
public sealed class AdminOptions
{
    /// <summary>Key operators present in <c>x-edgebridge-admin-key</c>; empty disables the admin endpoints.</summary>
    public string ApiKey { get; set; } = "";
}

/// <summary>Limits and timings of the <c>edgebridge.v1</c> WebSocket endpoint. Every limit has a safe default.</summary>
public sealed class EdgeWebSocketOptions
{
    /// <summary>Path of the endpoint. Read at startup.</summary>
    public string Path { get; set; } = "/ws";

    /// <summary>Largest inbound frame in bytes; a larger one closes the connection with 1009.</summary>
    public int MaxFrameBytes { get; set; } = 64 * 1024;

    /// <summary>Most active subscriptions on one connection; one more answers RESOURCE_EXHAUSTED.</summary>
    public int MaxSubscriptionsPerConnection { get; set; } = 100;

    /// <summary>Sustained inbound frames per second; exceeding it (beyond the burst) closes with 4429.</summary>
    public int MaxInboundFramesPerSecond { get; set; } = 100;

    /// <summary>Frames a client may send at once above the sustained rate, e.g. a page subscribing everything at start.</summary>
    public int InboundFrameBurst { get; set; } = 200;

    /// <summary>Rejected (malformed) frames a connection may send before it is closed with 4400.</summary>
    public int MaxMalformedFrames { get; set; } = 20;

    /// <summary>How long a new connection has to send <c>init</c>; then it is closed with 4408.</summary>
    public TimeSpan InitTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>After this long without an inbound frame the server sends <c>ping</c>.</summary>
    public TimeSpan KeepAliveInterval { get; set; } = TimeSpan.FromSeconds(20);

    /// <summary>A connection silent for this long after a <c>ping</c> is considered vanished and closed.</summary>
    public TimeSpan KeepAliveTimeout { get; set; } = TimeSpan.FromSeconds(20);

    /// <summary>Queue bound for methods whose option does not set one. Read at startup.</summary>
    public int DefaultQueueLimit { get; set; } = 256;

    /// <summary>
    /// Client messages of a client-streaming or bidirectional stream that may wait to be written upstream, for methods
    /// whose option sets no <c>send_queue_limit</c>; one more ends the stream with RESOURCE_EXHAUSTED. Read at startup.
    /// </summary>
    public int DefaultSendQueueLimit { get; set; } = 32;

    /// <summary>Upper bound on any method's queue limit, whatever its option says. Read at startup.</summary>
    public int MaxQueueLimit { get; set; } = 8192;

    /// <summary>Control frames (acks, errors, pongs) that may wait for a client that does not read; then 4429.</summary>
    public int MaxPendingControlFrames { get; set; } = 256;

    /// <summary>
    /// Frames queued for one socket are written together, up to this many bytes per write; 0 writes each frame
    /// on its own.
    /// </summary>
    public int MaxWriteBatchBytes { get; set; } = 32 * 1024;

    /// <summary>
    /// How long a draining edge (SIGTERM) gives its clients to move after telling them with <c>goaway</c>; then it
    /// closes the rest with 1001. 0 closes every socket at once. Keep it below <c>HostOptions:ShutdownTimeout</c>.
    /// </summary>
    public TimeSpan DrainPeriod { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How long a closing connection waits for the client's close frame before aborting.</summary>
    public TimeSpan CloseTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Metadata keys a <c>subscribe</c> may carry to its upstream call (e.g. <c>x-request-id</c>); any other key is
    /// refused with INVALID_ARGUMENT. Credentials, gRPC's own and <c>x-edgebridge-*</c> keys can never be listed.
    /// </summary>
    public List<string> ForwardedMetadata { get; set; } = [];

    /// <summary>Most bytes of keys and values one subscription's metadata may hold.</summary>
    public int MaxMetadataBytes { get; set; } = 4096;

    /// <summary>
    /// New sockets (handshakes, hence inits) the whole edge admits per second; beyond it upgrades answer 503 with a
    /// <c>Retry-After</c> spread over the backlog. Bounds the cost of a reconnect storm. Read at startup.
    /// </summary>
    public RateLimit Handshakes { get; set; } = new() { PermitsPerSecond = 2000, Burst = 2000 };

    /// <summary>New sockets one client address may open per second; beyond it 429 with <c>Retry-After</c>. Read at startup.</summary>
    public RateLimit HandshakesPerAddress { get; set; } = new() { PermitsPerSecond = 20, Burst = 50 };

    /// <summary>How long a <c>call</c> over the socket waits for the backend when its method's option names no timeout.</summary>
    public TimeSpan CallTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Calls one connection may have waiting for the backend at once; one more answers RESOURCE_EXHAUSTED for its id.</summary>
    public int MaxCallsInFlight { get; set; } = 16;

    /// <summary>Concurrent WebSocket connections on this edge; beyond it upgrades answer 503.</summary>
    public int MaxConnections { get; set; } = 10_000;

    /// <summary>Concurrent WebSocket connections from one client address; beyond it upgrades answer 429.</summary>
    public int MaxConnectionsPerAddress { get; set; } = 50;
}

/// <summary>
/// The Connect protocol (unary, GET for side-effect-free methods, server streams) and gRPC-Web (binary and text) on
/// Browser listeners, for every method the contract exposes to browsers: each call becomes the upstream gRPC call,
/// under the same tokens, origins, rate limits and stream policies as REST and the socket.
/// </summary>
public sealed class RpcOptions
{
    /// <summary>Whether <c>MapEdgeBridge</c> maps the protocols. Read at startup.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Largest request message in bytes (its envelope included); beyond it RESOURCE_EXHAUSTED.</summary>
    public int MaxRequestBytes { get; set; } = 1024 * 1024;

    /// <summary>A unary call's deadline when the client sets none (<c>Connect-Timeout-Ms</c>, <c>grpc-timeout</c>).</summary>
    public TimeSpan DefaultTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Longest deadline a client may ask for a unary call; a longer one is cut to it.</summary>
    public TimeSpan MaxTimeout { get; set; } = TimeSpan.FromMinutes(5);
}

/// <summary>
/// Server streams over HTTP (<c>POST|GET {Path}/{package.Service}/{Method}</c>), as server-sent events or NDJSON, for
/// clients that cannot open a WebSocket. Subscriptions, limits and policies are the WebSocket's.
/// </summary>
public sealed class HttpStreamOptions
{
    /// <summary>Path prefix of the streams. Read at startup.</summary>
    public string Path { get; set; } = "/stream";

    /// <summary>An idle stream sends a heartbeat (an SSE comment, an NDJSON heartbeat line) this often, so proxies keep it open.</summary>
    public TimeSpan HeartbeatInterval { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>Largest request (the POST body or the GET <c>request</c> parameter) in bytes; beyond it 413.</summary>
    public int MaxRequestBytes { get; set; } = 64 * 1024;

    /// <summary>How long a stream ticket (<c>POST {Path}/tickets</c>, for <c>EventSource</c>) may wait to be used, once.</summary>
    public TimeSpan TicketLifetime { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Redeemed tickets an edge remembers (until they expire) to refuse their reuse; beyond it a ticket is refused (401, "retry").</summary>
    public int MaxRedeemedTickets { get; set; } = 100_000;
}

/// <summary>What configuration adds to the contracts (<c>EdgeBridge:Contracts</c>).</summary>
public sealed class EdgeContractsOptions
{
    /// <summary>
    /// Descriptor set files to load the contracts from at start (relative paths from the content root or the app's
    /// folder): the edge fronts a backend it was not built against. Written by <c>buf build -o</c> or
    /// <c>protoc --descriptor_set_out --include_imports --include_source_info</c>.
    /// </summary>
    public List<string> DescriptorSets { get; set; } = [];

    /// <summary>
    /// API configuration YAML files (google.api.Service, <c>http: rules:</c>) with HTTP rules for methods whose protos
    /// cannot be edited; a rule replaces the method's own <c>google.api.http</c> option.
    /// </summary>
    public List<string> ApiConfigs { get; set; } = [];

    /// <summary>
    /// Methods exposed by configuration, with the policies the <c>edgebridge.v1</c> options would give them: for protos
    /// that cannot be edited. An entry overrides the .proto's own option field by field.
    /// </summary>
    public List<ExposedMethodOptions> Expose { get; set; } = [];

    /// <summary>
    /// Reload the contracts when a descriptor set or API configuration file changes: the catalog, the documents and
    /// the routes follow without dropping a connection. A file that does not load is refused and the previous
    /// contracts stay in force.
    /// </summary>
    public bool Watch { get; set; } = true;

    /// <summary>How long the files must stay unchanged before a reload: an editor or a build writes a file in several steps.</summary>
    public TimeSpan ReloadDelay { get; set; } = TimeSpan.FromMilliseconds(300);

    /// <summary>
    /// Read the contracts from the upstream gRPC cluster's server reflection (<c>grpc.reflection.v1</c>, else
    /// <c>v1alpha</c>): the edge is not ready until the first read succeeds, and reads again every
    /// <see cref="ReflectionRefresh"/> and when a replica comes back.
    /// </summary>
    public bool Reflection { get; set; }

    /// <summary>How often the contracts are read again through reflection.</summary>
    public TimeSpan ReflectionRefresh { get; set; } = TimeSpan.FromSeconds(30);
}

/// <summary>
/// One method exposed by configuration (<c>EdgeBridge:Contracts:Expose:n</c>). A streaming method becomes a subscription
/// as with <c>edgebridge.v1.stream</c>; a unary method a socket call (and so a Connect and gRPC-Web call) as with
/// <c>edgebridge.v1.call</c>, its <see cref="Auth"/> as <c>edgebridge.v1.access</c>.
/// </summary>
public sealed class ExposedMethodOptions
{
    /// <summary><c>package.Service/Method</c>.</summary>
    public string Method { get; set; } = "";

    /// <summary>Streams only: one upstream call for everyone, or one per caller (the default).</summary>
    public ExposedSharing? Sharing { get; set; }

    /// <summary>Streams only: messages a subscription may have waiting; the edge's default when not given.</summary>
    public int? QueueLimit { get; set; }

    /// <summary>Streams only: what happens to a subscriber that falls behind its queue limit.</summary>
    public ExposedSlowConsumer? SlowConsumer { get; set; }

    /// <summary>Whether a caller's token is needed (and forwarded upstream).</summary>
    public ExposedAuth? Auth { get; set; }
}

/// <summary>As <c>edgebridge.v1.Sharing</c>.</summary>
public enum ExposedSharing
{
    PerCaller,
    Shared,
}

/// <summary>As <c>edgebridge.v1.SlowConsumerPolicy</c>.</summary>
public enum ExposedSlowConsumer
{
    EndSubscription,
    DropOldest,
}

/// <summary>As <c>edgebridge.v1.Auth</c>.</summary>
public enum ExposedAuth
{
    Required,
    None,
}
