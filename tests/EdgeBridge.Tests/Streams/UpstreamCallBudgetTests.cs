using System.Net;
using EdgeBridge.Streams;
using Microsoft.Extensions.Options;

namespace EdgeBridge.Tests.Streams;

public sealed class UpstreamCallBudgetTests
{
    private static readonly IPAddress s_a = IPAddress.Parse("10.0.0.1");
    private static readonly IPAddress s_b = IPAddress.Parse("10.0.0.2");

    private static UpstreamCallBudget Budget(int total = 100, int perAddress = 3, int perUser = 2) =>
        new(new StaticOptions(new EdgeBridgeOptions { Upstream = new UpstreamOptions { MaxCalls = total, MaxCallsPerAddress = perAddress, MaxCallsPerUser = perUser } }));

    [Fact]
    public void PerAddress_RefusesBeyondTheCap_OtherAddressesUnaffected()
    {
        var budget = Budget();
        for (var i = 0; i < 3; i++)
        {
            Assert.NotNull(budget.TryCharge(new Caller(s_a, null, null), out _));
        }

        Assert.Null(budget.TryCharge(new Caller(s_a, null, null), out var refusal));
        Assert.Contains("address", refusal, StringComparison.Ordinal);
        Assert.NotNull(budget.TryCharge(new Caller(s_b, null, null), out _));
    }

    [Fact]
    public void PerUser_CountsAcrossAddresses()
    {
        var budget = Budget();
        Assert.NotNull(budget.TryCharge(new Caller(s_a, "alice", "t"), out _));
        Assert.NotNull(budget.TryCharge(new Caller(s_b, "alice", "t"), out _));

        Assert.Null(budget.TryCharge(new Caller(IPAddress.Parse("10.0.0.3"), "alice", "t"), out var refusal));
        Assert.Contains("user", refusal, StringComparison.Ordinal);
        Assert.NotNull(budget.TryCharge(new Caller(s_a, "bob", "t"), out _));
    }

    [Fact]
    public void PerEdge_IsTheOuterBound()
    {
        var budget = Budget(total: 2, perAddress: 10);
        budget.TryCharge(new Caller(s_a, null, null), out _);
        budget.TryCharge(new Caller(s_b, null, null), out _);

        Assert.Null(budget.TryCharge(new Caller(IPAddress.Parse("10.0.0.3"), null, null), out var refusal));
        Assert.Contains("edge", refusal, StringComparison.Ordinal);
    }

    [Fact]
    public void Release_GivesTheCallBackOnce_HoweverOftenItIsCalled()
    {
        var budget = Budget(perAddress: 1);
        var charge = budget.TryCharge(new Caller(s_a, "alice", null), out _)!;

        charge.Dispose();
        charge.Dispose();

        Assert.Equal(0, budget.Total);
        Assert.NotNull(budget.TryCharge(new Caller(s_a, "alice", null), out _));
        Assert.Null(budget.TryCharge(new Caller(s_a, "alice", null), out _));
    }

    private sealed class StaticOptions(EdgeBridgeOptions value) : IOptionsMonitor<EdgeBridgeOptions>
    {
        public EdgeBridgeOptions CurrentValue => value;

        public EdgeBridgeOptions Get(string? name) => value;

        public IDisposable? OnChange(Action<EdgeBridgeOptions, string?> listener) => null;
    }
}
