using System.Net;
using EdgeBridge.Security;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace EdgeBridge.Tests.Security;

public sealed class LoginThrottleTests
{
    private static readonly IPAddress s_home = IPAddress.Parse("10.0.0.1");
    private static readonly IPAddress s_attacker = IPAddress.Parse("10.0.0.66");
    private readonly FakeTimeProvider _clock = new(DateTimeOffset.UnixEpoch);

    private LoginThrottle Throttle(int pair = 3, int address = 10, int user = 5, int maxTracked = 1000) => new(new StaticOptions(new EdgeBridgeOptions
    {
        Logins = new LoginOptions
        {
            PerUserAtAddress = new FailureLimit { Failures = pair, Window = TimeSpan.FromMinutes(3) },
            PerAddress = new FailureLimit { Failures = address, Window = TimeSpan.FromMinutes(10) },
            PerUser = new FailureLimit { Failures = user, Window = TimeSpan.FromMinutes(5) },
            KnownAddressLifetime = TimeSpan.FromDays(1),
            MaxTracked = maxTracked,
        },
    }), _clock);

    [Fact]
    public void PairBudget_Spent_ThrottlesUntilOneFailureHasRefilled()
    {
        var throttle = Throttle();
        for (var i = 0; i < 3; i++)
        {
            Assert.False(throttle.IsThrottled(s_attacker, "alice", out _));
            throttle.Failed(s_attacker, "alice");
        }

        Assert.True(throttle.IsThrottled(s_attacker, "alice", out var wait));
        Assert.Equal(TimeSpan.FromMinutes(1), wait);
        _clock.Advance(wait - TimeSpan.FromSeconds(1));
        Assert.True(throttle.IsThrottled(s_attacker, "alice", out _));
        _clock.Advance(TimeSpan.FromSeconds(1));
        Assert.False(throttle.IsThrottled(s_attacker, "alice", out _));
    }

    [Fact]
    public void UserNames_AreComparedWithoutCase_OrSurroundingSpace()
    {
        var throttle = Throttle(pair: 1);
        throttle.Failed(s_attacker, "Alice ");

        Assert.True(throttle.IsThrottled(s_attacker, "aLICE", out _));
    }

    [Fact]
    public void UserBudget_SpentFromElsewhere_DoesNotLockTheUserOutOfAKnownAddress()
    {
        var throttle = Throttle(pair: 100, address: 100, user: 5);
        throttle.Succeeded(s_home, "alice");
        for (var i = 0; i < 5; i++)
        {
            throttle.Failed(IPAddress.Parse($"10.1.0.{i + 1}"), "alice");
        }

        Assert.True(throttle.IsThrottled(IPAddress.Parse("10.2.0.1"), "alice", out _));
        Assert.False(throttle.IsThrottled(s_home, "alice", out _));
        Assert.False(throttle.IsThrottled(IPAddress.Parse("10.2.0.1"), "bob", out _));
    }

    [Fact]
    public void KnownAddress_IsForgottenAfterItsLifetime()
    {
        var throttle = Throttle(pair: 100, address: 100, user: 1);
        throttle.Succeeded(s_home, "alice");
        _clock.Advance(TimeSpan.FromDays(1) + TimeSpan.FromSeconds(1));
        throttle.Failed(s_attacker, "alice");

        Assert.True(throttle.IsThrottled(s_home, "alice", out _));
    }

    [Fact]
    public void Success_RestoresThePairBudget()
    {
        var throttle = Throttle(pair: 2);
        throttle.Failed(s_home, "alice");
        throttle.Succeeded(s_home, "alice");
        throttle.Failed(s_home, "alice");

        Assert.False(throttle.IsThrottled(s_home, "alice", out _));
    }

    [Fact]
    public void AddressBudget_CountsEveryName()
    {
        var throttle = Throttle(address: 3);
        throttle.Failed(s_attacker, "a");
        throttle.Failed(s_attacker, "b");
        throttle.Failed(s_attacker, null);

        Assert.True(throttle.IsThrottled(s_attacker, "c", out _));
        Assert.True(throttle.IsThrottled(s_attacker, null, out _));
        Assert.False(throttle.IsThrottled(s_home, "c", out _));
    }

    [Fact]
    public void TrackedKeys_AreBounded_TheOldestForgottenFirst()
    {
        var throttle = Throttle(pair: 1, address: 1000, user: 1000, maxTracked: 2);
        throttle.Failed(s_attacker, "first");
        throttle.Failed(s_attacker, "second");
        throttle.Failed(s_attacker, "third");

        Assert.False(throttle.IsThrottled(s_attacker, "first", out _));
        Assert.True(throttle.IsThrottled(s_attacker, "third", out _));
    }

    private sealed class StaticOptions(EdgeBridgeOptions value) : IOptionsMonitor<EdgeBridgeOptions>
    {
        public EdgeBridgeOptions CurrentValue => value;

        public EdgeBridgeOptions Get(string? name) => value;

        public IDisposable? OnChange(Action<EdgeBridgeOptions, string?> listener) => null;
    }
}
