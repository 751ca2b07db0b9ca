using EdgeBridge.Status;
using Grpc.Core;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;

namespace EdgeBridge.Security;

/// <summary>
/// The origin allowlist: the edge's own origin plus <see cref="BrowserOptions.AllowedOrigins"/>. It guards
/// WebSocket upgrades (browsers send cookies and no preflight on cross-site upgrades) and is the CORS policy of REST.
/// </summary>
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
    public static bool IsAllowed(string origin, string own, IReadOnlyList<string> allowed)
    {
        if (string.Equals(origin, own, StringComparison.OrdinalIgnoreCase))
        {
            return true;
        }

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

    /// <summary>CORS for REST: refuses disallowed origins, answers preflights, and marks allowed responses.</summary>
    public static Task InvokeAsync(HttpContext context, Func<Task> next)
    {
        if (RpcStatusWriter.IsGrpc(context.Request))
        {
            return next();
        }

        if (!IsAllowed(context, out var origin))
        {
            return RefuseAsync(context, origin!);
        }

        if (origin is null)
        {
            return next();
        }

        var response = context.Response.Headers;
        response.AccessControlAllowOrigin = origin;
        response.Vary = HeaderNames.Origin;
        response.AccessControlExposeHeaders = "ETag, Retry-After, WWW-Authenticate";
        if (HttpMethods.IsOptions(context.Request.Method) && context.Request.Headers.ContainsKey(HeaderNames.AccessControlRequestMethod))
        {
            var options = context.RequestServices.GetRequiredService<IOptionsMonitor<EdgeBridgeOptions>>().CurrentValue.Browser;
            response.AccessControlAllowMethods = "GET, POST, PUT, PATCH, DELETE";
            response.AccessControlAllowHeaders = "authorization, content-type, if-none-match";
            response.AccessControlMaxAge = ((int)options.PreflightMaxAge.TotalSeconds).ToString(System.Globalization.CultureInfo.InvariantCulture);
            context.Response.StatusCode = StatusCodes.Status204NoContent;
            return Task.CompletedTask;
        }

        return next();
    }
}
