using System.Net;
using Microsoft.Extensions.Options;

namespace EdgeBridge.Streams;

/// <summary>Who a subscription belongs to: the address it came from, and its user and token once it has one.</summary>
internal readonly record struct Caller(IPAddress Address, string? User, string? Token);

/// <summary>
/// Bounds the upstream calls that subscriptions make the edge open, per client address, per user and per edge
/// (<see cref="UpstreamOptions.MaxCallsPerAddress"/>, <see cref="UpstreamOptions.MaxCallsPerUser"/>,
/// <see cref="UpstreamOptions.MaxCalls"/>). A client that holds many sockets cannot turn them into an unbounded
/// number of backend streams. Only a new call costs: a subscription that joins a running shared call is free.
/// </summary>
/// <remarks>
/// A shared call stays charged to whoever started it until it ends, even after they leave it: handing the charge
/// to another subscriber would let a client start calls and walk away from their cost. The memory held here is
/// one entry per address and per user with a running call, so it is bounded by the calls themselves.
/// </remarks>
internal sealed class UpstreamCallBudget(IOptionsMonitor<EdgeBridgeOptions> options)
{
    private readonly Lock _lock = new();
    private readonly Dictionary<IPAddress, int> _perAddress = [];
    private readonly Dictionary<string, int> _perUser = new(StringComparer.Ordinal);
    private int _total;

    /// <summary>Upstream calls charged now, for the edge as a whole.</summary>
    public int Total => Volatile.Read(ref _total);

    /// <summary>Charges one new call to <paramref name="caller"/>; null (with the reason) when a cap is reached.</summary>
    public Charge? TryCharge(Caller caller, out string? refusal)
    {
        var limits = options.CurrentValue.Upstream;
        lock (_lock)
        {
            if (_total >= limits.MaxCalls)
            {
                refusal = $"This edge already runs its maximum of {limits.MaxCalls} upstream calls; retry later.";
                return null;
            }

            var byAddress = _perAddress.GetValueOrDefault(caller.Address);
            if (byAddress >= limits.MaxCallsPerAddress)
            {
                refusal = $"This address already holds the maximum of {limits.MaxCallsPerAddress} upstream calls; end a subscription first.";
                return null;
            }

            var byUser = caller.User is null ? 0 : _perUser.GetValueOrDefault(caller.User);
            if (caller.User is not null && byUser >= limits.MaxCallsPerUser)
            {
                refusal = $"This user already holds the maximum of {limits.MaxCallsPerUser} upstream calls; end a subscription first.";
                return null;
            }

            _total++;
            _perAddress[caller.Address] = byAddress + 1;
            if (caller.User is not null)
            {
                _perUser[caller.User] = byUser + 1;
            }
        }

        refusal = null;
        return new Charge(this, caller.Address, caller.User);
    }

    private void Release(Charge charge)
    {
        lock (_lock)
        {
            _total--;
            Decrement(_perAddress, charge.Address);
            if (charge.User is not null)
            {
                Decrement(_perUser, charge.User);
            }
        }
    }

    private static void Decrement<TKey>(Dictionary<TKey, int> counts, TKey key)
        where TKey : notnull
    {
        if (counts.TryGetValue(key, out var count))
        {
            if (count <= 1)
            {
                counts.Remove(key);
            }
            else
            {
                counts[key] = count - 1;
            }
        }
    }

    /// <summary>One call's share of the caps; given back once, however many times <see cref="Dispose"/> is called.</summary>
    internal sealed class Charge(UpstreamCallBudget budget, IPAddress address, string? user) : IDisposable
    {
        private int _released;

        public IPAddress Address { get; } = address;

        public string? User { get; } = user;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
            {
                budget.Release(this);
            }
        }
    }
}
