using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Threading.RateLimiting;
using EdgeBridge.Responses;
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
    // of the same address or user, so a key's partition draws on two shared partitioned limiters.
    private readonly Func<CallerKey, RateLimiter> _view;

    public EdgeRateLimiterPolicy(Func<EdgeBridgeOptions, (RateLimit PerAddress, RateLimit PerUser)> limits, IOptionsMonitor<EdgeBridgeOptions> options)
    {
        // The factories run once per new address or user; partitioning a request allocates nothing.
        Func<IPAddress, RateLimiter> newAddressBucket = _ => Bucket(limits(options.CurrentValue).PerAddress);
        Func<string, RateLimiter> newUserBucket = _ => Bucket(limits(options.CurrentValue).PerUser);
        var byAddress = PartitionedRateLimiter.Create<CallerKey, IPAddress>(key => RateLimitPartition.Get(key.Address, newAddressBucket));
        var byUser = PartitionedRateLimiter.Create<CallerKey, string>(key => RateLimitPartition.Get(key.User!, newUserBucket));
        _view = key => new CallerLimiter(byAddress, byUser, key);
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

    private static readonly Func<IPAddress, RateLimiter> s_noLimit = RateLimitPartition.GetNoLimiter(IPAddress.None).Factory;

    // Replenished by the partitioned limiter's own timer (AutoReplenishment off, as RateLimitPartition.GetTokenBucketLimiter
    // sets it): one timer for all buckets, not one per bucket.
    private static RateLimiter Bucket(RateLimit rate) => rate.PermitsPerSecond <= 0
        ? s_noLimit(IPAddress.None)
        : new TokenBucketRateLimiter(new TokenBucketRateLimiterOptions
        {
            TokenLimit = Math.Max(1, rate.Burst),
            TokensPerPeriod = rate.PermitsPerSecond,
            ReplenishmentPeriod = TimeSpan.FromSeconds(1),
            QueueLimit = 0,
            AutoReplenishment = false,
        });

    /// <summary>
    /// One key's view of the shared buckets: the address's, then the user's when there is one. It owns nothing, so
    /// the middleware may drop it when idle (on the real clock, which the middleware's idle sweep runs on).
    /// </summary>
    private sealed class CallerLimiter(PartitionedRateLimiter<CallerKey> byAddress, PartitionedRateLimiter<CallerKey> byUser, CallerKey key) : RateLimiter
    {
        private long _lastUsed = Stopwatch.GetTimestamp();

        public override TimeSpan? IdleDuration => Stopwatch.GetElapsedTime(Volatile.Read(ref _lastUsed));

        public override RateLimiterStatistics? GetStatistics() => null;

        protected override RateLimitLease AttemptAcquireCore(int permitCount)
        {
            Volatile.Write(ref _lastUsed, Stopwatch.GetTimestamp());
            var address = byAddress.AttemptAcquire(key, permitCount);
            if (key.User is null || !address.IsAcquired)
            {
                return address;
            }

            // Token buckets keep what a lease took, whatever happens to the lease: the address's granted lease
            // answers for both, and a refusal by the user's bucket is the answer (with its Retry-After).
            var user = byUser.AttemptAcquire(key, permitCount);
            if (!user.IsAcquired)
            {
                address.Dispose();
                return user;
            }

            user.Dispose();
            return address;
        }

        // No queue (QueueLimit 0): waiting would only hold the request longer.
        protected override ValueTask<RateLimitLease> AcquireAsyncCore(int permitCount, CancellationToken cancellationToken) =>
            ValueTask.FromResult(AttemptAcquireCore(permitCount));
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
