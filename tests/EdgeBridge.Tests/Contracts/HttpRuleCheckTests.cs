using CatalogTest.V1;
using EdgeBridge.Contracts;
using Microsoft.Extensions.Options;

namespace EdgeBridge.Tests.Contracts;

/// <summary>An http rule that names what the request or response does not have stops the load, not the first request.</summary>
public sealed class HttpRuleCheckTests
{
    private const string Selector = "catalogtest.v1.FeedService.InternalOnly";

    [Theory]
    [InlineData("get: /v1/feeds/{topic}/after/{after_sequence}")]
    [InlineData("post: /v1/feeds/{topic}\n      body: \"*\"")]
    [InlineData("get: /v1/feeds/{topic=rooms/*}\n      response_body: text")]
    [InlineData("put: /v1/feeds\n      body: topic")]
    public void RulesThatNameFieldsOfTheRequestAndResponse_Load(string pattern) =>
        Assert.NotNull(Catalog(pattern));

    [Theory]
    [InlineData("get: /v1/feeds/{id}", "GET /v1/feeds/{id} binds 'id', which is not a field of catalogtest.v1.FeedRequest.")]
    [InlineData("get: /v1/feeds/{topic.name}", "binds 'topic.name', but 'topic' is not a message.")]
    [InlineData("post: /v1/feeds\n      body: feed", "takes its body into 'feed', which is not a field of catalogtest.v1.FeedRequest.")]
    [InlineData("get: /v1/feeds\n      response_body: items", "answers with response_body 'items', which is not a field of catalogtest.v1.FeedResponse.")]
    [InlineData("get: /v1/feeds/{topic", "the http rule's template GET /v1/feeds/{topic does not parse.")]
    public void RulesThatNameWhatIsNotThere_StopTheLoad_NamingMethodTemplateAndField(string pattern, string problem)
    {
        var error = Assert.Throws<InvalidOperationException>(() => Catalog(pattern));

        Assert.StartsWith("catalogtest.v1.FeedService.InternalOnly: the http rule", error.Message, StringComparison.Ordinal);
        Assert.Contains(problem, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AnAdditionalBindingIsCheckedToo()
    {
        var error = Assert.Throws<InvalidOperationException>(() => Catalog("get: /v1/feeds/{topic}\n      additional_bindings:\n        - get: /v2/feeds/{room}"));

        Assert.Contains("GET /v2/feeds/{room} binds 'room'", error.Message, StringComparison.Ordinal);
    }

    private static ContractCatalog Catalog(string pattern)
    {
        var contracts = new ContractOptions();
        contracts.Files.Add(CatalogTestReflection.Descriptor);
        contracts.HttpRules[Selector] = ApiConfigs.Parse($"http:\n  rules:\n    - selector: {Selector}\n      {pattern}\n").Rules[0];
        return new ContractCatalog(Options.Create(contracts), Options.Create(new EdgeBridgeOptions()));
    }
}
