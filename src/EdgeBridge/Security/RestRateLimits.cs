using System.Globalization;
using System.Threading.RateLimiting;
using EdgeBridge.Status;
using Grpc.Core;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace EdgeBridge.Security;

/// <summary>
/// Token-bucket limits on REST requests per client address and per authenticated user. Idle partitions are
/// dropped by the limiter, so memory stays bounded however many addresses appear.
/// </summary>
internal sealed class RestRateLimits : IDisposable
{
    private readonly PartitionedRateLimiter<HttpContext> _limiter;

    public RestRateLimits(IOptions<EdgeBridgeOptions> options)
    {
        var rest = options.Value.Rest;
        var limiters = new List<PartitionedRateLimiter<HttpContext>>();
        if (rest.PerAddress.PermitsPerSecond > 0)
        {
            limiters.Add(PartitionedRateLimiter.Create<HttpContext, string>(context =>
                Bucket("address:" + (context.Connection.RemoteIpAddress?.ToString() ?? "unknown"), rest.PerAddress)));
        }

        if (rest.PerUser.PermitsPerSecond > 0)
        {
            limiters.Add(PartitionedRateLimiter.Create<HttpContext, string>(context =>
                EdgeIdentity.Subject(context) is { } subject ? Bucket("user:" + subject, rest.PerUser) : RateLimitPartition.GetNoLimiter("anonymous")));
        }

        _limiter = limiters.Count == 0
            ? PartitionedRateLimiter.Create<HttpContext, string>(_ => RateLimitPartition.GetNoLimiter("none"))
            : PartitionedRateLimiter.CreateChained([.. limiters]);
    }

    public static async Task InvokeAsync(HttpContext context, Func<Task> next)
    {
        if (RpcStatusWriter.IsGrpc(context.Request))
        {
            await next();
            return;
        }

        var limits = context.RequestServices.GetRequiredService<RestRateLimits>();
        using var lease = limits._limiter.AttemptAcquire(context);
        if (!lease.IsAcquired)
        {
            var retryAfter = lease.TryGetMetadata(MetadataName.RetryAfter, out var wait) ? Math.Max(1, (int)Math.Ceiling(wait.TotalSeconds)) : 1;
            context.Response.Headers.RetryAfter = retryAfter.ToString(CultureInfo.InvariantCulture);
            await RpcStatusWriter.WriteAsync(context, StatusCode.ResourceExhausted, $"Too many requests; retry after {retryAfter} s.", StatusCodes.Status429TooManyRequests);
            return;
        }

        await next();
    }

    public void Dispose() => _limiter.Dispose();

    private static RateLimitPartition<string> Bucket(string key, RateLimit rate) => RateLimitPartition.GetTokenBucketLimiter(key, _ => new TokenBucketRateLimiterOptions
    {
        TokenLimit = Math.Max(1, rate.Burst),
        TokensPerPeriod = rate.PermitsPerSecond,
        ReplenishmentPeriod = TimeSpan.FromSeconds(1),
        QueueLimit = 0,
        AutoReplenishment = true,
    });
}
