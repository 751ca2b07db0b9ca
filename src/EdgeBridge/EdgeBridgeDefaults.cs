namespace EdgeBridge;

/// <summary>
/// The names EdgeBridge registers with ASP.NET Core, for routes in configuration (YARP's <c>AuthorizationPolicy</c>,
/// <c>CorsPolicy</c>, <c>RateLimiterPolicy</c> and <c>Metadata</c>) and for a host's own endpoints.
/// </summary>
public static class EdgeBridgeDefaults
{
    /// <summary>The authentication scheme that validates bearer tokens (JwtBearer with <see cref="EdgeBridgeOptions.Tokens"/>).</summary>
    public const string AuthenticationScheme = "EdgeBridge";

    /// <summary>An authorization policy for routes that need an authenticated user, whatever the contract says.</summary>
    public const string AuthenticatedPolicy = "EdgeBridge.Authenticated";

    /// <summary>The CORS policy of browser routes: <see cref="BrowserOptions.AllowedOrigins"/>.</summary>
    public const string CorsPolicy = "EdgeBridge.Browser";

    /// <summary>
    /// The CORS policy of the Connect and gRPC-Web endpoints: the origins of <see cref="CorsPolicy"/>, with the headers
    /// those protocols send (<c>connect-protocol-version</c>, <c>connect-timeout-ms</c>, <c>x-grpc-web</c>, …) and expose
    /// (<c>grpc-status</c>, <c>grpc-message</c>, …).
    /// </summary>
    public const string RpcCorsPolicy = "EdgeBridge.Rpc";

    /// <summary>The rate limiter policy of REST routes: <see cref="RestOptions.PerAddress"/> and <see cref="RestOptions.PerUser"/>.</summary>
    public const string RestRateLimiterPolicy = "EdgeBridge.Rest";

    /// <summary>The rate limiter policy of gRPC routes: <see cref="GrpcOptions.PerAddress"/> and <see cref="GrpcOptions.PerUser"/>.</summary>
    public const string GrpcRateLimiterPolicy = "EdgeBridge.Grpc";

    /// <summary>
    /// Route metadata key (YARP <c>Metadata</c>) naming the listener roles a route exists on, e.g. <c>"Grpc"</c>;
    /// a route without it exists on Browser listeners.
    /// </summary>
    public const string ListenerMetadata = "EdgeBridge.Listener";

    /// <summary>Route metadata key whose value is sent as <c>Cache-Control</c> on the route's successful GET responses.</summary>
    public const string CacheControlMetadata = "EdgeBridge.CacheControl";
}
