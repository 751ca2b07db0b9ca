using EdgeBridge.Status;
using Grpc.Core;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace EdgeBridge.Proxy;

/// <summary>
/// Applies the REST body limit before anything is forwarded. gRPC requests are exempt: their messages are
/// limited by gRPC itself, and a client stream may legitimately run for hours.
/// </summary>
internal static class BodyLimits
{
    public static Task InvokeAsync(HttpContext context, Func<Task> next)
    {
        var feature = context.Features.Get<IHttpMaxRequestBodySizeFeature>();
        if (RpcStatusWriter.IsGrpc(context.Request))
        {
            if (feature is { IsReadOnly: false })
            {
                feature.MaxRequestBodySize = null;
            }

            return next();
        }

        var limit = Limit(context);
        if (context.Request.ContentLength > limit)
        {
            return RpcStatusWriter.WriteAsync(context, StatusCode.ResourceExhausted, TooLargeMessage(context), StatusCodes.Status413PayloadTooLarge);
        }

        if (feature is { IsReadOnly: false })
        {
            feature.MaxRequestBodySize = limit;
        }

        return next();
    }

    public static string TooLargeMessage(HttpContext context) =>
        $"The request body exceeds the edge's limit of {Limit(context)} bytes.";

    private static long Limit(HttpContext context) =>
        context.RequestServices.GetRequiredService<IOptionsMonitor<EdgeBridgeOptions>>().CurrentValue.Rest.MaxRequestBodySize;
}
