using System.Security.Cryptography;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;

namespace EdgeBridge.Responses;

/// <summary>
/// Strong ETags over a response's bytes and the <c>If-None-Match</c> revalidation every REST read gets: the proxied
/// routes (<c>Proxy/CachingTransformProvider</c>), REST transcoded at the edge and Connect GETs.
/// </summary>
internal static class EntityTags
{
    /// <summary>
    /// Sets the ETag of <paramref name="body"/> and <paramref name="cacheControl"/> on the response; when the request
    /// already holds that ETag the response becomes a bodiless 304 and this returns true (write nothing more).
    /// </summary>
    public static bool Revalidate(HttpContext context, ReadOnlySpan<byte> body, string cacheControl)
    {
        var response = context.Response;
        var etag = Compute(body);
        response.Headers.ETag = etag;
        response.Headers.CacheControl = cacheControl;
        if (!Matches(context.Request.Headers.IfNoneMatch, etag))
        {
            return false;
        }

        response.StatusCode = StatusCodes.Status304NotModified;
        response.ContentType = null;
        response.ContentLength = null;
        return true;
    }

    /// <summary>A strong ETag: the first 128 bits of the body's SHA-256, base64url, quoted (one string, no intermediates).</summary>
    public static string Compute(ReadOnlySpan<byte> body)
    {
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(body, hash);
        Span<char> tag = stackalloc char[2 + 22];
        tag[0] = '"';
        System.Buffers.Text.Base64Url.EncodeToChars(hash[..16], tag[1..^1], out _, out var written);
        tag[1 + written] = '"';
        return new string(tag[..(written + 2)]);
    }

    /// <summary>Weak comparison, as RFC 9110 prescribes for If-None-Match.</summary>
    public static bool Matches(StringValues ifNoneMatch, string etag)
    {
        foreach (var value in ifNoneMatch)
        {
            foreach (var candidate in (value ?? "").Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            {
                var tag = candidate.StartsWith("W/", StringComparison.Ordinal) ? candidate[2..] : candidate;
                if (tag == "*" || tag == etag)
                {
                    return true;
                }
            }
        }

        return false;
    }
}
