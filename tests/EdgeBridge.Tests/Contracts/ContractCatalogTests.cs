using CatalogTest.V1;
using EdgeBridge.Contracts;
using Microsoft.Extensions.Options;

namespace EdgeBridge.Tests.Contracts;

public sealed class ContractCatalogTests
{
    private static ContractCatalog Catalog(EdgeWebSocketOptions? limits = null)
    {
        var contracts = new ContractOptions();
        contracts.Files.Add(CatalogTestReflection.Descriptor);
        return new ContractCatalog(Options.Create(contracts), Options.Create(new EdgeBridgeOptions { WebSockets = limits ?? new EdgeWebSocketOptions() }));
    }

    [Fact]
    public void Methods_OnlyAnnotatedStreaming_AreExposed()
    {
        var names = Catalog().Methods.Select(m => m.FullName).Order(StringComparer.Ordinal);

        Assert.Equal(
            ["catalogtest.v1.FeedService/Chat", "catalogtest.v1.FeedService/HugeQueueFeed", "catalogtest.v1.FeedService/PrivateFeed",
                "catalogtest.v1.FeedService/SharedFeed", "catalogtest.v1.FeedService/Upload"],
            names);
    }

    [Fact]
    public void BrowserCalls_AreTheUnaryMethodsWithAnHttpRuleOrACallOption()
    {
        var catalog = Catalog();

        Assert.Equal(["catalogtest.v1.FeedService/CallableRead", "catalogtest.v1.FeedService/CallableWrite"],
            catalog.BrowserCalls.Select(m => m.FullName).Order(StringComparer.Ordinal));
        Assert.True(catalog.TryGetBrowserCall("catalogtest.v1.FeedService/CallableRead", out var read) && read.NoSideEffects);
        Assert.True(catalog.TryGetBrowserCall("catalogtest.v1.FeedService/CallableWrite", out var write) && !write.NoSideEffects);
        Assert.False(catalog.TryGetBrowserCall("catalogtest.v1.FeedService/InternalOnly", out _));
        Assert.False(catalog.TryGetBrowserCall("catalogtest.v1.FeedService/AnnotatedUnary", out _));
    }

    [Fact]
    public void TryGet_HiddenOrUnary_NotFound()
    {
        var catalog = Catalog();

        Assert.False(catalog.TryGet("catalogtest.v1.FeedService/HiddenFeed", out _));
        Assert.False(catalog.TryGet("catalogtest.v1.FeedService/AnnotatedUnary", out _));
        Assert.False(catalog.TryGet("catalogtest.v1.FeedService/HiddenUpload", out _));
    }

    [Fact]
    public void ClientAndBidirectionalStreams_KnowTheirKind_AndTheirSendQueue()
    {
        var catalog = Catalog(new EdgeWebSocketOptions { DefaultSendQueueLimit = 9 });

        Assert.True(catalog.TryGet("catalogtest.v1.FeedService/Chat", out var chat));
        Assert.True(catalog.TryGet("catalogtest.v1.FeedService/Upload", out var upload));
        Assert.True(catalog.TryGet("catalogtest.v1.FeedService/SharedFeed", out var feed));

        Assert.Equal((StreamKind.Bidirectional, true, 2, Grpc.Core.MethodType.DuplexStreaming), (chat.Kind, chat.ClientSends, chat.SendQueueLimit, chat.GrpcMethod.Type));
        Assert.Equal((StreamKind.Client, true, 9, Grpc.Core.MethodType.ClientStreaming), (upload.Kind, upload.ClientSends, upload.SendQueueLimit, upload.GrpcMethod.Type));
        Assert.Equal((StreamKind.Server, false), (feed.Kind, feed.ClientSends));
    }

    [Fact]
    public void SharedBidirectionalStream_IsRefusedAtLoad_NamingTheMethod()
    {
        var contracts = new ContractOptions();
        contracts.Files.Add(SharedChatTest.V1.SharedChatTestReflection.Descriptor);

        var error = Assert.Throws<InvalidOperationException>(() => new ContractCatalog(Options.Create(contracts), Options.Create(new EdgeBridgeOptions())));

        Assert.Contains("sharedchattest.v1.RoomService/Chat", error.Message);
        Assert.Contains("SHARING_SHARED", error.Message);
    }

    [Fact]
    public void Policy_FromOption_SharedDropOldestWithQueueLimit()
    {
        Assert.True(Catalog().TryGet("catalogtest.v1.FeedService/SharedFeed", out var method));

        Assert.Equal(new StreamPolicy(Shared: true, QueueLimit: 16, DropOldest: true), method.Policy);
        Assert.Equal("catalogtest.v1.FeedService", method.GrpcMethod.ServiceName);
        Assert.Equal("SharedFeed", method.GrpcMethod.Name);
    }

    [Fact]
    public void Policy_EmptyOption_PerCallerEndSubscriptionWithDefaultQueue()
    {
        Assert.True(Catalog(new EdgeWebSocketOptions { DefaultQueueLimit = 77 }).TryGet("catalogtest.v1.FeedService/PrivateFeed", out var method));

        Assert.Equal(new StreamPolicy(Shared: false, QueueLimit: 77, DropOldest: false, ForwardsToken: true, RequiresToken: false), method.Policy);
    }

    [Fact]
    public void Policy_QueueLimitAboveMaximum_Clamped()
    {
        Assert.True(Catalog(new EdgeWebSocketOptions { MaxQueueLimit = 500 }).TryGet("catalogtest.v1.FeedService/HugeQueueFeed", out var method));

        Assert.Equal(500, method.Policy.QueueLimit);
    }

    [Fact]
    public void Json_Int64AsStringAndDefaultsIncluded()
    {
        var json = System.Text.Encoding.UTF8.GetString(Catalog().Json.FormatUtf8(new FeedResponse { Sequence = 42 }));

        Assert.Equal("""{"sequence":"42","text":""}""", json);
    }
}
