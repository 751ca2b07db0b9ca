using CatalogTest.V1;
using EdgeBridge.Contracts;
using Microsoft.Extensions.Options;

namespace EdgeBridge.Tests.Contracts;

/// <summary>EdgeBridge:Contracts:Expose: the edgebridge.v1 policies for protos that cannot be edited, given in configuration.</summary>
public sealed class ContractExposureTests
{
    private static ContractCatalog Catalog(params ExposedMethodOptions[] expose)
    {
        var contracts = new ContractOptions();
        contracts.Files.Add(CatalogTestReflection.Descriptor);
        var options = new EdgeBridgeOptions();
        options.Contracts.Expose.AddRange(expose);
        return new ContractCatalog(Options.Create(contracts), Options.Create(options));
    }

    [Fact]
    public void AStreamWithNoOption_ExposedByConfiguration_WithEveryPolicy()
    {
        var catalog = Catalog(new ExposedMethodOptions
        {
            Method = "catalogtest.v1.FeedService/HiddenFeed",
            Sharing = ExposedSharing.Shared,
            QueueLimit = 12,
            SlowConsumer = ExposedSlowConsumer.DropOldest,
        });

        Assert.False(Catalog().TryGet("catalogtest.v1.FeedService/HiddenFeed", out _));
        Assert.True(catalog.TryGet("catalogtest.v1.FeedService/HiddenFeed", out var method));
        Assert.Equal(new StreamPolicy(Shared: true, QueueLimit: 12, DropOldest: true), method.Policy);
    }

    [Fact]
    public void PerCallerWithAuthRequired_ForwardsAndRequiresTheToken_EndsSlowConsumers()
    {
        var catalog = Catalog(new ExposedMethodOptions { Method = "catalogtest.v1.FeedService/HiddenFeed", Auth = ExposedAuth.Required });

        Assert.True(catalog.TryGet("catalogtest.v1.FeedService/HiddenFeed", out var method));
        Assert.Equal((false, true, true, false), (method.Policy.Shared, method.Policy.RequiresToken, method.Policy.ForwardsToken, method.Policy.DropOldest));
        Assert.True(catalog.FindGrpc("/catalogtest.v1.FeedService/HiddenFeed")!.RequiresCaller);
    }

    [Fact]
    public void AnEntry_OverridesTheProtosOwnOption_FieldByField()
    {
        var catalog = Catalog(new ExposedMethodOptions { Method = "catalogtest.v1.FeedService/SharedFeed", QueueLimit = 3 });

        Assert.True(catalog.TryGet("catalogtest.v1.FeedService/SharedFeed", out var method));
        // Sharing and the slow-consumer policy stay the .proto's; the queue limit is configuration's.
        Assert.Equal(new StreamPolicy(Shared: true, QueueLimit: 3, DropOldest: true), method.Policy);
    }

    [Fact]
    public void AUnaryMethod_BecomesASocketAndConnectCall_WithItsAuth()
    {
        var catalog = Catalog(new ExposedMethodOptions { Method = "catalogtest.v1.FeedService/InternalOnly", Auth = ExposedAuth.Required });

        Assert.False(Catalog().TryGetBrowserCall("catalogtest.v1.FeedService/InternalOnly", out _));
        Assert.True(catalog.TryGetCall("catalogtest.v1.FeedService/InternalOnly", out var call));
        Assert.True(call.RequiresToken);
        Assert.True(catalog.TryGetBrowserCall("catalogtest.v1.FeedService/InternalOnly", out var browser));
        Assert.True(browser.Contract.RequiresCaller);
    }

    [Theory]
    [InlineData("catalogtest.v1.FeedService/NoSuch", null, "EdgeBridge:Contracts:Expose:0:Method 'catalogtest.v1.FeedService/NoSuch' is not a method")]
    [InlineData("catalogtest.v1.FeedService.HiddenFeed", null, "is not a method of the loaded contracts")]
    [InlineData("catalogtest.v1.FeedService/InternalOnly", 5, "EdgeBridge:Contracts:Expose:0 sets Sharing, QueueLimit or SlowConsumer on 'catalogtest.v1.FeedService/InternalOnly', which is unary")]
    [InlineData("catalogtest.v1.FeedService/HiddenFeed", 0, "EdgeBridge:Contracts:Expose:0:QueueLimit must be greater than 0")]
    public void ABadEntry_StopsTheCatalogNamingTheKey(string method, int? queueLimit, string expected)
    {
        var error = Assert.Throws<InvalidOperationException>(() => Catalog(new ExposedMethodOptions { Method = method, QueueLimit = queueLimit }));

        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TheSameMethodTwice_Refused()
    {
        var entry = new ExposedMethodOptions { Method = "catalogtest.v1.FeedService/HiddenFeed" };

        var error = Assert.Throws<InvalidOperationException>(() => Catalog(entry, entry));

        Assert.Contains("EdgeBridge:Contracts:Expose:1:Method 'catalogtest.v1.FeedService/HiddenFeed' is exposed twice", error.Message, StringComparison.Ordinal);
    }
}
