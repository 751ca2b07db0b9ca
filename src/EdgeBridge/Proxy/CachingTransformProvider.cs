using System.Buffers;
using EdgeBridge.Responses;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;
using Yarp.ReverseProxy.Transforms;
using Yarp.ReverseProxy.Transforms.Builder;

namespace EdgeBridge.Proxy;

/// <summary>
/// Keeps REST reads cacheable: successful GET responses get a strong <c>ETag</c> computed from their bytes,
/// <c>If-None-Match</c> is answered with 304, and a route's <c>EdgeBridge.CacheControl</c> metadata becomes
/// its <c>Cache-Control</c> header.
/// </summary>
internal sealed class CachingTransformProvider(IOptionsMonitor<EdgeBridgeOptions> options) : ITransformProvider
{
    public void ValidateRoute(TransformRouteValidationContext context)
    {
    }

    public void ValidateCluster(TransformClusterValidationContext context)
    {
    }

    public void Apply(TransformBuilderContext context)
    {
        string? cacheControl = null;
        context.Route.Metadata?.TryGetValue(EdgeBridgeDefaults.CacheControlMetadata, out cacheControl);
        context.AddResponseTransform(transform => TransformAsync(transform, cacheControl));
    }

    private async ValueTask TransformAsync(ResponseTransformContext transform, string? cacheControl)
    {
        var http = transform.HttpContext;
        if (!HttpMethods.IsGet(http.Request.Method) || transform.ProxyResponse is not { StatusCode: System.Net.HttpStatusCode.OK } upstream)
        {
            return;
        }

        var headers = http.Response.Headers;
        if (cacheControl is not null && !headers.ContainsKey(HeaderNames.CacheControl))
        {
            headers.CacheControl = cacheControl;
        }

        var limit = options.CurrentValue.Rest.MaxETagBodySize;
        if (headers.ContainsKey(HeaderNames.ETag) || upstream.Content.Headers.ContentLength > limit)
        {
            return;
        }

        // Buffer the body (bounded by the limit) to hash it; YARP then leaves the body to us.
        transform.SuppressResponseBody = true;
        var body = await upstream.Content.ReadAsStreamAsync(http.RequestAborted);
        var buffer = ArrayPool<byte>.Shared.Rent(Math.Min(limit + 1, 16 * 1024));
        try
        {
            var length = 0;
            int read;
            while (length <= limit && (read = await body.ReadAsync(buffer.AsMemory(length), http.RequestAborted)) > 0)
            {
                length += read;
                if (length == buffer.Length && length <= limit)
                {
                    var larger = ArrayPool<byte>.Shared.Rent(Math.Min(buffer.Length * 2, limit + 1));
                    buffer.AsSpan(0, length).CopyTo(larger);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = larger;
                }
            }

            if (length > limit)
            {
                // Too large to hash: send what was read, then stream the rest untouched.
                await http.Response.Body.WriteAsync(buffer.AsMemory(0, length), http.RequestAborted);
                await body.CopyToAsync(http.Response.Body, http.RequestAborted);
                return;
            }

            var etag = EntityTags.Compute(buffer.AsSpan(0, length));
            headers.ETag = etag;
            if (EntityTags.Matches(http.Request.Headers.IfNoneMatch, etag))
            {
                http.Response.StatusCode = StatusCodes.Status304NotModified;
                headers.ContentLength = null;
                headers.ContentType = default;
                return;
            }

            headers.ContentLength = length;
            await http.Response.Body.WriteAsync(buffer.AsMemory(0, length), http.RequestAborted);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
