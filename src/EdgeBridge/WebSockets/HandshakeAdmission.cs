using System.Diagnostics;
using System.Net;
using System.Threading.RateLimiting;
using Microsoft.Extensions.Options;

namespace EdgeBridge.WebSockets;

/// <summary>Why a handshake was not admitted, with when to come back.</summary>
internal readonly record struct AdmissionRefusal(bool Edge, int RetryAfterSeconds);

/// <summary>
/// Admission control for new sockets, before any work is spent on them (the handshake, then <c>init</c>'s token
/// check and the subscriptions it brings, about 0.2 ms of CPU each): a token bucket for the whole edge
/// (<see cref="EdgeWebSocketOptions.Handshakes"/>, beyond it 503) and one per client address
/// (<see cref="EdgeWebSocketOptions.HandshakesPerAddress"/>, beyond it 429), both with <c>Retry-After</c>. Each
/// connection has exactly one <c>init</c>, so the handshake rate is also the rate of inits.
/// </summary>
/// <remarks>
/// When thousands of clients lose their edge at once, the survivor admits them at its rate and tells the rest when
/// to come back, spread over as many seconds as the backlog needs at that rate (a random second within it), so that
/// the refused do not return together. A client reconnecting in a tight loop is held to its address's rate.
/// </remarks>
internal sealed class HandshakeAdmission : IDisposable
{
    private const int MaxRetryAfterSeconds = 60;

    private readonly RateLimiter? _edge;
    private readonly PartitionedRateLimiter<IPAddress>? _perAddress;
    private readonly int _edgeRate;
    private long _windowStart = Stopwatch.GetTimestamp();
    private int _refusedInWindow;

    public HandshakeAdmission(IOptions<EdgeBridgeOptions> options)
    {
        var sockets = options.Value.WebSockets;
        _edgeRate = sockets.Handshakes.PermitsPerSecond;
        if (sockets.Handshakes.PermitsPerSecond > 0)
        {
            _edge = new TokenBucketRateLimiter(Bucket(sockets.Handshakes));
        }

        if (sockets.HandshakesPerAddress.PermitsPerSecond > 0)
        {
            var perAddress = sockets.HandshakesPerAddress;

            // Idle buckets (full again) are dropped by the limiter: memory follows the addresses seen lately.
            _perAddress = PartitionedRateLimiter.Create<IPAddress, IPAddress>(address =>
                RateLimitPartition.GetTokenBucketLimiter(address, _ => Bucket(perAddress)));
        }
    }

    /// <summary>Takes a permit for a handshake from <paramref name="address"/>; null when admitted.</summary>
    public AdmissionRefusal? TryAdmit(IPAddress address)
    {
        if (_perAddress is not null)
        {
            using var lease = _perAddress.AttemptAcquire(address);
            if (!lease.IsAcquired)
            {
                var wait = lease.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter) ? retryAfter : TimeSpan.FromSeconds(1);
                return new AdmissionRefusal(Edge: false, Math.Clamp((int)Math.Ceiling(wait.TotalSeconds), 1, MaxRetryAfterSeconds));
            }
        }

        if (_edge is not null)
        {
            using var lease = _edge.AttemptAcquire();
            if (!lease.IsAcquired)
            {
                return new AdmissionRefusal(Edge: true, SpreadRetryAfter());
            }
        }

        return null;
    }

    // The refused of the last second, at the edge's rate, need this many seconds: each is sent to a random one.
    private int SpreadRetryAfter()
    {
        var start = Interlocked.Read(ref _windowStart);
        if (Stopwatch.GetElapsedTime(start) >= TimeSpan.FromSeconds(1)
            && Interlocked.CompareExchange(ref _windowStart, Stopwatch.GetTimestamp(), start) == start)
        {
            Interlocked.Exchange(ref _refusedInWindow, 0);
        }

        var refused = Interlocked.Increment(ref _refusedInWindow);
        var seconds = Math.Clamp((refused + _edgeRate - 1) / Math.Max(1, _edgeRate), 1, MaxRetryAfterSeconds);
        return 1 + Random.Shared.Next(seconds);
    }

    private static TokenBucketRateLimiterOptions Bucket(RateLimit rate) => new()
    {
        TokenLimit = Math.Max(1, rate.Burst),
        TokensPerPeriod = rate.PermitsPerSecond,
        ReplenishmentPeriod = TimeSpan.FromSeconds(1),
        QueueLimit = 0,
        AutoReplenishment = true,
    };

    public void Dispose()
    {
        _edge?.Dispose();
        _perAddress?.Dispose();
    }
}
