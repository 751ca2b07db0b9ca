using EdgeBridge.Responses;
using Grpc.Core;
using Microsoft.AspNetCore.Cors.Infrastructure;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace EdgeBridge.Security;

/// <summary>
/// The origin allowlist: the edge's own origin plus <see cref="BrowserOptions.AllowedOrigins"/>. It guards
/// WebSocket upgrades (browsers send cookies and no preflight on cross-site upgrades), it is the
/// <see cref="EdgeBridgeDefaults.CorsPolicy"/> of REST, and it refuses requests from other origins outright.
/// </summary>
/// <remarks>
/// The edge's own origin is built from the request's <c>Host</c>, which a browser sets to the host it connects to and
/// a page cannot change; a non-browser client can send any <c>Host</c>, but it can as well send no <c>Origin</c>.
/// </remarks>
internal static class BrowserOrigins
{
    /// <summary>True when the request has no Origin (not a browser) or comes from an allowed origin.</summary>
    public static bool IsAllowed(HttpContext context, out string? origin)
    {
        origin = context.Request.Headers.Origin.ToString();
        if (origin.Length == 0)
        {
            origin = null;
            return true;
        }

        return IsAllowed(origin, context.Request.Scheme + "://" + context.Request.Host.Value,
            context.RequestServices.GetRequiredService<IOptionsMonitor<EdgeBridgeOptions>>().CurrentValue.Browser.AllowedOrigins);
    }

    /// <summary>True when <paramref name="origin"/> is the edge's own (<paramref name="own"/>) or an allowed one.</summary>
    public static bool IsAllowed(string origin, string own, IReadOnlyList<string> allowed) =>
        string.Equals(origin, own, StringComparison.OrdinalIgnoreCase) || IsListed(origin, allowed);

    /// <summary>True when <paramref name="origin"/> is one of <paramref name="allowed"/>.</summary>
    public static bool IsListed(string origin, IReadOnlyList<string> allowed)
    {
        foreach (var candidate in allowed)
        {
            if (string.Equals(origin, candidate.TrimEnd('/'), StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }

    public static Task RefuseAsync(HttpContext context, string origin) =>
        RpcStatusWriter.WriteAsync(context, StatusCode.PermissionDenied, $"Origin '{origin}' is not allowed.", StatusCodes.Status403Forbidden);

    /// <summary>
    /// Refuses a request from a disallowed origin before it is forwarded. CORS alone only keeps the page from reading
    /// the answer: a cross-site form POST needs no preflight, and would otherwise reach the backend and act.
    /// </summary>
    public static Task GuardAsync(HttpContext context, RequestDelegate next) =>
        IsAllowed(context, out var origin) ? next(context) : RefuseAsync(context, origin!);
}

/// <summary>
/// The <see cref="EdgeBridgeDefaults.CorsPolicy"/>: ASP.NET Core's CORS middleware answers preflights and marks
/// responses for the allowed origins (read live from configuration); the exact origin is echoed, never <c>*</c>.
/// </summary>
internal sealed class CorsSetup(IOptionsMonitor<EdgeBridgeOptions> options) : IConfigureOptions<CorsOptions>
{
    public void Configure(CorsOptions cors)
    {
        cors.AddPolicy(EdgeBridgeDefaults.CorsPolicy, policy => policy
            .SetIsOriginAllowed(origin => BrowserOrigins.IsListed(origin, options.CurrentValue.Browser.AllowedOrigins))
            .WithMethods("GET", "POST", "PUT", "PATCH", "DELETE")
            .WithHeaders("authorization", "content-type", "if-none-match")
            .WithExposedHeaders("ETag", "Retry-After", "WWW-Authenticate")
            .SetPreflightMaxAge(options.CurrentValue.Browser.PreflightMaxAge));

        // What connect-es and the grpc-web runtime send and read (their documentation's CORS lists).
        cors.AddPolicy(EdgeBridgeDefaults.RpcCorsPolicy, policy => policy
            .SetIsOriginAllowed(origin => BrowserOrigins.IsListed(origin, options.CurrentValue.Browser.AllowedOrigins))
            .WithMethods("GET", "POST")
            .WithHeaders("authorization", "content-type", "if-none-match", "connect-protocol-version", "connect-timeout-ms",
                "connect-accept-encoding", "connect-content-encoding", "x-grpc-web", "x-user-agent", "grpc-timeout", "x-request-id")
            .WithExposedHeaders("ETag", "Retry-After", "WWW-Authenticate", "grpc-status", "grpc-message", "grpc-status-details-bin",
                "connect-content-encoding", "connect-accept-encoding")
            .SetPreflightMaxAge(options.CurrentValue.Browser.PreflightMaxAge));
    }
}
