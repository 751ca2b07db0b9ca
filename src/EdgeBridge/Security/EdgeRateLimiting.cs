using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Threading.RateLimiting;
using EdgeBridge.Errors;
using Grpc.Core;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Options;

namespace EdgeBridge.Security;

/// <summary>Who a request is charged to: its address, and its validated user when it has one.</summary>
internal readonly record struct CallerKey(IPAddress Address, string? User);

/// <summary>
/// A rate limiter policy (ASP.NET Core's rate limiting middleware, named on routes like any other) that charges each
/// request to two token buckets: its client address and, when its token was validated, its user. The address is
/// the connection's, never a header. Beyond either bucket the request is refused with 429 + <c>Retry-After</c> and
/// a google.rpc.Status (REST) or RESOURCE_EXHAUSTED (gRPC). Idle buckets are dropped, so memory stays bounded
/// however many addresses or users appear.
/// </summary>
internal sealed class EdgeRateLimiterPolicy : IRateLimiterPolicy<CallerKey>
{
    // ASP.NET Core's policies hand out one partition per key; both buckets of a key are shared with every other key
    // of the same address or user, so the partition chains two shared partitioned limiters.
    private readonly PartitionedRateLimiter<CallerKey> _buckets;
    private readonly Func<CallerKey, RateLimiter> _view;

    public EdgeRateLimiterPolicy(Func<EdgeBridgeOptions, (RateLimit PerAddress, RateLimit PerUser)> limits, IOptionsMonitor<EdgeBridgeOptions> options)
    {
        var byAddress = PartitionedRateLimiter.Create<CallerKey, IPAddress>(key =>
            Bucket(key.Address, limits(options.CurrentValue).PerAddress));
        var byUser = PartitionedRateLimiter.Create<CallerKey, string>(key =>
            key.User is null ? RateLimitPartition.GetNoLimiter("") : Bucket(key.User, limits(options.CurrentValue).PerUser));
        _buckets = PartitionedRateLimiter.CreateChained(byAddress, byUser);
        _view = key => new CallerLimiter(_buckets, key);
    }

    public Func<OnRejectedContext, CancellationToken, ValueTask>? OnRejected { get; } = static (rejected, _) =>
    {
        var context = rejected.HttpContext;
        var retryAfter = rejected.Lease.TryGetMetadata(MetadataName.RetryAfter, out var wait) ? Math.Max(1, (int)Math.Ceiling(wait.TotalSeconds)) : 1;
        context.Response.Headers.RetryAfter = retryAfter.ToString(CultureInfo.InvariantCulture);
        return new ValueTask(RpcStatusWriter.WriteAsync(context, StatusCode.ResourceExhausted,
            $"Too many requests; retry after {retryAfter} s.", StatusCodes.Status429TooManyRequests));
    };

    public RateLimitPartition<CallerKey> GetPartition(HttpContext httpContext)
    {
        var key = new CallerKey(httpContext.Connection.RemoteIpAddress ?? IPAddress.None, Callers.Subject(httpContext));
        return RateLimitPartition.Get(key, _view);
    }

    private static RateLimitPartition<TKey> Bucket<TKey>(TKey key, RateLimit rate) => rate.PermitsPerSecond <= 0
        ? RateLimitPartition.GetNoLimiter(key)
        : RateLimitPartition.GetTokenBucketLimiter(key, _ => new TokenBucketRateLimiterOptions
        {
            TokenLimit = Math.Max(1, rate.Burst),
            TokensPerPeriod = rate.PermitsPerSecond,
            ReplenishmentPeriod = TimeSpan.FromSeconds(1),
            QueueLimit = 0,
            AutoReplenishment = true,
        });

    /// <summary>One key's view of the shared buckets. It owns nothing, so the middleware may drop it when idle.</summary>
    private sealed class CallerLimiter(PartitionedRateLimiter<CallerKey> buckets, CallerKey key) : RateLimiter
    {
        private long _lastUsed = Stopwatch.GetTimestamp();

        public override TimeSpan? IdleDuration => Stopwatch.GetElapsedTime(Volatile.Read(ref _lastUsed));

        public override RateLimiterStatistics? GetStatistics() => null;

        protected override RateLimitLease AttemptAcquireCore(int permitCount)
        {
            Volatile.Write(ref _lastUsed, Stopwatch.GetTimestamp());
            return buckets.AttemptAcquire(key, permitCount);
        }

        protected override ValueTask<RateLimitLease> AcquireAsyncCore(int permitCount, CancellationToken cancellationToken)
        {
            Volatile.Write(ref _lastUsed, Stopwatch.GetTimestamp());
            return buckets.AcquireAsync(key, permitCount, cancellationToken);
        }
    }
}

/// <summary>Registers the REST and gRPC policies with ASP.NET Core's rate limiting.</summary>
internal sealed class RateLimiterSetup(IOptionsMonitor<EdgeBridgeOptions> options) : IConfigureOptions<RateLimiterOptions>
{
    public void Configure(RateLimiterOptions limiter)
    {
        limiter.AddPolicy(EdgeBridgeDefaults.RestRateLimiterPolicy, new EdgeRateLimiterPolicy(static o => (o.Rest.PerAddress, o.Rest.PerUser), options));
        limiter.AddPolicy(EdgeBridgeDefaults.GrpcRateLimiterPolicy, new EdgeRateLimiterPolicy(static o => (o.Grpc.PerAddress, o.Grpc.PerUser), options));
    }
}
