using EdgeBridge.FunctionalTests.Common;

namespace EdgeBridge.FunctionalTests.Contracts;

/// <summary>An edge that changes a method's exposure by configuration alone: the public quote stream made per caller and token-only.</summary>
public sealed class ExposedByConfigurationFixture : StackFixture
{
    protected override IDictionary<string, string?> EdgeSettings => new Dictionary<string, string?>
    {
        ["EdgeBridge:Contracts:Expose:0:Method"] = "trading.v1.MarketDataService/StreamQuotes",
        ["EdgeBridge:Contracts:Expose:0:Sharing"] = "PerCaller",
        ["EdgeBridge:Contracts:Expose:0:Auth"] = "Required",
    };
}

/// <summary>EdgeBridge:Contracts:Expose on the running edge: the configured policy is the one every path applies.</summary>
public sealed class ExposeTests(ExposedByConfigurationFixture stack) : IClassFixture<ExposedByConfigurationFixture>
{
    private const string StreamQuotes = "trading.v1.MarketDataService/StreamQuotes";

    [Fact]
    public async Task ConfiguredAuthRequired_AnonymousSubscriptionRefused_ACallersSubscriptionServed()
    {
        var alice = await stack.LoginAsync();
        var (anonymous, _) = await EdgeSocket.OpenAsync(stack.Edge);
        var (signedIn, _) = await EdgeSocket.OpenAsync(stack.Edge, alice.Token);
        await using var _1 = anonymous;
        await using var _2 = signedIn;

        await anonymous.SubscribeAsync("q", StreamQuotes, new { symbols = new[] { "ACME" } });
        await signedIn.SubscribeAsync("q", StreamQuotes, new { symbols = new[] { "ACME" } });

        var (refusal, _) = await anonymous.ReceiveUntilAsync(f => f.Type() == "error" && f.Id() == "q");
        var (next, _) = await signedIn.ReceiveUntilAsync(f => f.Id() == "q");
        Assert.Equal(16, refusal.Code());
        Assert.Equal("next", next.Type());
    }

    [Fact]
    public async Task ConfiguredPerCaller_TwoCallersOpenTwoUpstreamCalls()
    {
        // The .proto says SHARING_SHARED; configuration says per caller: each subscriber has its own upstream call.
        var before = stack.Backend.Calls.Started("trading.v1.MarketDataService/StreamQuotes");
        var alice = await stack.LoginAsync();
        var (first, _) = await EdgeSocket.OpenAsync(stack.Edge, alice.Token);
        var (second, _) = await EdgeSocket.OpenAsync(stack.Edge, alice.Token);
        await using var _1 = first;
        await using var _2 = second;

        await first.SubscribeAsync("a", StreamQuotes, new { symbols = new[] { "HOOL" } });
        await second.SubscribeAsync("b", StreamQuotes, new { symbols = new[] { "HOOL" } });
        await first.ReceiveUntilAsync(f => f.Type() == "next");
        await second.ReceiveUntilAsync(f => f.Type() == "next");

        Assert.Equal(before + 2, stack.Backend.Calls.Started("trading.v1.MarketDataService/StreamQuotes"));
    }

    [Fact]
    public async Task TheAsyncApiDocumentSaysWhatConfigurationSays()
    {
        using var document = System.Text.Json.JsonDocument.Parse(await stack.Rest.GetStringAsync("/asyncapi/v1.json"));

        var policy = document.RootElement.GetProperty("operations").EnumerateObject()
            .Single(o => o.Name.Contains("StreamQuotes", StringComparison.Ordinal)).Value.GetProperty("x-edgebridge-policy");
        Assert.Equal("per-caller", policy.GetProperty("sharing").GetString());
        Assert.Equal("required", policy.GetProperty("auth").GetString());
    }
}
