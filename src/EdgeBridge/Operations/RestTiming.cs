using System.Diagnostics;
using EdgeBridge.Status;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace EdgeBridge.Operations;

/// <summary>Records the duration of every REST request through the edge (gRPC calls are streams, not timed here).</summary>
internal static class RestTiming
{
    public static async Task InvokeAsync(HttpContext context, Func<Task> next)
    {
        if (RpcStatusWriter.IsGrpc(context.Request))
        {
            await next();
            return;
        }

        var started = Stopwatch.GetTimestamp();
        try
        {
            await next();
        }
        finally
        {
            context.RequestServices.GetRequiredService<EdgeBridgeMetrics>()
                .RestRequest(Stopwatch.GetElapsedTime(started).TotalSeconds, context.Request.Method, context.Response.StatusCode);
        }
    }
}
