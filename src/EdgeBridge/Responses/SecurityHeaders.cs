using Microsoft.AspNetCore.Http;
using Microsoft.Net.Http.Headers;

namespace EdgeBridge.Responses;

/// <summary>Headers that keep the edge's responses from being sniffed, framed or leaking referrers.</summary>
internal static class SecurityHeaders
{
    /// <summary>Content-Security-Policy of the pages the edge serves itself (no inline code, no third parties).</summary>
    public const string PagePolicy = "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; style-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

    /// <summary>For API responses: nothing in them may load or run anything.</summary>
    public const string ApiPolicy = "default-src 'none'; frame-ancestors 'none'";

    public static void Apply(HttpContext context, string contentSecurityPolicy = ApiPolicy)
    {
        var headers = context.Response.Headers;
        headers.XContentTypeOptions = "nosniff";
        headers.XFrameOptions = "DENY";
        headers["Referrer-Policy"] = "no-referrer";
        headers["Cross-Origin-Opener-Policy"] = "same-origin";
        headers.ContentSecurityPolicy = contentSecurityPolicy;
        if (context.Request.IsHttps)
        {
            headers.StrictTransportSecurity = "max-age=31536000";
        }
    }

    /// <summary>Applies the API headers unless the response already has them (a page's own policy stays).</summary>
    public static void ApplyOnce(HttpContext context)
    {
        if (!context.Response.Headers.ContainsKey(HeaderNames.XContentTypeOptions))
        {
            Apply(context);
        }
    }
}
