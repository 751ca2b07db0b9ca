using System.Net;
using Microsoft.Extensions.Options;

namespace EdgeBridge.Security;

/// <summary>
/// Counts failed credential checks (logins) per user name at an address, per address, and per user name from all
/// addresses, each against a budget that refills evenly over its window (<see cref="LoginOptions"/>). An address
/// that has seen a successful login for a user is exempt from that user's all-address budget for a while, so an
/// attacker spreading guesses over many addresses cannot lock the user out of where they log in from; they can only
/// exhaust their own pair and address budgets.
/// </summary>
/// <remarks>
/// Hand-written rather than System.Threading.RateLimiting: only failures cost, checked before the attempt and
/// charged after its outcome is known, and time comes from <see cref="TimeProvider"/>. Memory is bounded by
/// <see cref="LoginOptions.MaxTracked"/> per kind of key; the least recently charged entries go first. Evicting a
/// budget forgives it, so an attacker would need that many fresh keys, which their own address budget forbids.
/// </remarks>
internal sealed class LoginThrottle(IOptionsMonitor<EdgeBridgeOptions> options, TimeProvider time)
{
    private readonly Lock _lock = new();
    private readonly Lru<Budget> _pairs = new();
    private readonly Lru<Budget> _addresses = new();
    private readonly Lru<Budget> _users = new();
    private readonly Lru<long> _known = new();

    /// <summary>Longer principals are cut: a user name is not a place to store megabytes.</summary>
    public const int MaxPrincipalLength = 256;

    /// <summary>
    /// Whether an attempt for <paramref name="principal"/> (null when the request named none) from
    /// <paramref name="address"/> must be refused, and for how long.
    /// </summary>
    public bool IsThrottled(IPAddress address, string? principal, out TimeSpan retryAfter)
    {
        var limits = options.CurrentValue.Logins;
        var now = time.GetTimestamp();
        var user = Normalize(principal);
        var wait = TimeSpan.Zero;
        lock (_lock)
        {
            Wait(_addresses, Key(address), limits.PerAddress, now, ref wait);
            if (user is not null)
            {
                Wait(_pairs, Key(user, address), limits.PerUserAtAddress, now, ref wait);
                if (!IsKnown(user, address, now))
                {
                    Wait(_users, user, limits.PerUser, now, ref wait);
                }
            }
        }

        retryAfter = wait;
        return wait > TimeSpan.Zero;
    }

    /// <summary>Whole seconds to wait (at least 1) when the attempt is throttled, for <c>Retry-After</c>; null when it may go ahead.</summary>
    public int? RetryAfterSeconds(IPAddress address, string? principal) =>
        IsThrottled(address, principal, out var wait) ? Math.Max(1, (int)Math.Ceiling(wait.TotalSeconds)) : null;

    /// <summary>Books a credential check's outcome: UNAUTHENTICATED is a failed attempt, OK a success, anything else neither.</summary>
    public void Record(IPAddress address, string? principal, Grpc.Core.StatusCode outcome)
    {
        switch (outcome)
        {
            case Grpc.Core.StatusCode.Unauthenticated:
                Failed(address, principal);
                break;
            case Grpc.Core.StatusCode.OK:
                Succeeded(address, principal);
                break;
        }
    }

    /// <summary>Charges a failed attempt to every budget it belongs to.</summary>
    public void Failed(IPAddress address, string? principal)
    {
        var limits = options.CurrentValue.Logins;
        var now = time.GetTimestamp();
        var user = Normalize(principal);
        lock (_lock)
        {
            Charge(_addresses, Key(address), limits.PerAddress, limits.MaxTracked, now);
            if (user is not null)
            {
                Charge(_pairs, Key(user, address), limits.PerUserAtAddress, limits.MaxTracked, now);
                Charge(_users, user, limits.PerUser, limits.MaxTracked, now);
            }
        }
    }

    /// <summary>A successful login: the pair's budget is whole again and the address becomes known for the user.</summary>
    public void Succeeded(IPAddress address, string? principal)
    {
        var user = Normalize(principal);
        if (user is null)
        {
            return;
        }

        var limits = options.CurrentValue.Logins;
        var now = time.GetTimestamp();
        lock (_lock)
        {
            var pair = Key(user, address);
            _pairs.Remove(pair);
            _known.Set(pair, now, limits.MaxTracked);
        }
    }

    private bool IsKnown(string user, IPAddress address, long now)
    {
        var pair = Key(user, address);
        if (!_known.TryGet(pair, out var since))
        {
            return false;
        }

        if (time.GetElapsedTime(since, now) <= options.CurrentValue.Logins.KnownAddressLifetime)
        {
            return true;
        }

        _known.Remove(pair);
        return false;
    }

    // The time until the budget holds a whole attempt again (zero when it does).
    private void Wait(Lru<Budget> budgets, string key, FailureLimit limit, long now, ref TimeSpan wait)
    {
        if (limit.Failures <= 0 || !budgets.TryGet(key, out var budget))
        {
            return;
        }

        var left = Refilled(budget, limit, now);
        if (left < 1)
        {
            var missing = TimeSpan.FromSeconds((1 - left) * limit.Window.TotalSeconds / limit.Failures);
            wait = missing > wait ? missing : wait;
        }
    }

    private void Charge(Lru<Budget> budgets, string key, FailureLimit limit, int maxTracked, long now)
    {
        if (limit.Failures <= 0)
        {
            return;
        }

        var left = budgets.TryGet(key, out var budget) ? Refilled(budget, limit, now) : limit.Failures;
        budgets.Set(key, new Budget(Math.Max(0, left - 1), now), maxTracked);
    }

    private double Refilled(Budget budget, FailureLimit limit, long now) =>
        Math.Min(limit.Failures, budget.Left + time.GetElapsedTime(budget.At, now).TotalSeconds * limit.Failures / limit.Window.TotalSeconds);

    private static string? Normalize(string? principal)
    {
        if (string.IsNullOrWhiteSpace(principal))
        {
            return null;
        }

        var trimmed = principal.Trim();
        return (trimmed.Length > MaxPrincipalLength ? trimmed[..MaxPrincipalLength] : trimmed).ToLowerInvariant();
    }

    private static string Key(IPAddress address) => address.ToString();

    private static string Key(string user, IPAddress address) => user + "\n" + address;

    /// <summary>What is left of a budget at a moment (a <see cref="TimeProvider"/> timestamp).</summary>
    private readonly record struct Budget(double Left, long At);

    /// <summary>A map that forgets its least recently set entries beyond a size. Not thread-safe: used under the lock.</summary>
    private sealed class Lru<TValue>
    {
        private readonly Dictionary<string, LinkedListNode<(string Key, TValue Value)>> _entries = new(StringComparer.Ordinal);
        private readonly LinkedList<(string Key, TValue Value)> _order = new();

        public bool TryGet(string key, out TValue value)
        {
            if (_entries.TryGetValue(key, out var node))
            {
                value = node.Value.Value;
                return true;
            }

            value = default!;
            return false;
        }

        public void Set(string key, TValue value, int capacity)
        {
            if (_entries.TryGetValue(key, out var node))
            {
                _order.Remove(node);
                node.Value = (key, value);
                _order.AddFirst(node);
                return;
            }

            while (_entries.Count >= capacity && _order.Last is { } oldest)
            {
                _entries.Remove(oldest.Value.Key);
                _order.RemoveLast();
            }

            _entries[key] = _order.AddFirst((key, value));
        }

        public void Remove(string key)
        {
            if (_entries.Remove(key, out var node))
            {
                _order.Remove(node);
            }
        }
    }
}
