using CatalogTest.V1;
using EdgeBridge.Contracts;
using Microsoft.Extensions.Options;

namespace EdgeBridge.Tests.Contracts;

/// <summary>HTTP rules from API configuration YAML (google.api.Service), for protos that cannot carry google.api.http.</summary>
public sealed class ApiConfigsTests
{
    [Fact]
    public void Rules_WithBodiesResponseBodiesAndAdditionalBindings()
    {
        var http = ApiConfigs.Parse("""
            type: google.api.Service
            config_version: 3
            http:
              rules:
                - selector: catalogtest.v1.FeedService.InternalOnly
                  get: /v1/feeds/{id}
                  response_body: item
                  additional_bindings:
                    - post: /v1/feeds:lookup
                      body: "*"
                - selector: catalogtest.v1.FeedService.CallableWrite
                  custom:
                    kind: PURGE
                    path: /v1/feeds
            """);

        var first = http.Rules[0];
        Assert.Equal(("catalogtest.v1.FeedService.InternalOnly", "/v1/feeds/{id}", "item"), (first.Selector, first.Get, first.ResponseBody));
        Assert.Equal(("/v1/feeds:lookup", "*"), (first.AdditionalBindings[0].Post, first.AdditionalBindings[0].Body));
        Assert.Equal("PURGE", http.Rules[1].Custom.Kind);
    }

    [Theory]
    [InlineData("just text", "not a YAML mapping")]
    [InlineData("type: google.api.Service\n", "no 'http' section")]
    [InlineData("http:\n  rules:\n    - selector: a.B.C\n      gett: /x\n", "gett")]
    public void MalformedFiles_Refused(string yaml, string problem)
    {
        var error = Assert.ThrowsAny<Exception>(() => ApiConfigs.Parse(yaml));

        Assert.Contains(problem, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ARule_ExposesAMethodWithoutOne_OverREST()
    {
        var contracts = new ContractOptions();
        contracts.Files.Add(CatalogTestReflection.Descriptor);
        contracts.HttpRules["catalogtest.v1.FeedService.InternalOnly"] = ApiConfigs.Parse("http:\n  rules:\n    - selector: catalogtest.v1.FeedService.InternalOnly\n      get: /v1/internal/{topic}\n").Rules[0];

        var catalog = new ContractCatalog(Options.Create(contracts), Options.Create(new EdgeBridgeOptions()));

        Assert.Equal("InternalOnly", catalog.FindRest("GET", "/v1/internal/7")?.Method.Descriptor.Name);
        Assert.True(catalog.TryGetBrowserCall("catalogtest.v1.FeedService/InternalOnly", out _));
    }

    [Fact]
    public void ARuleForNoMethod_StopsTheCatalog()
    {
        var contracts = new ContractOptions();
        contracts.Files.Add(CatalogTestReflection.Descriptor);
        contracts.HttpRules["catalogtest.v1.FeedService.Nothing"] = new Google.Api.HttpRule { Selector = "catalogtest.v1.FeedService.Nothing", Get = "/x" };

        var error = Assert.Throws<InvalidOperationException>(() => new ContractCatalog(Options.Create(contracts), Options.Create(new EdgeBridgeOptions())));

        Assert.Contains("EdgeBridge:Contracts:ApiConfigs: the http rule for 'catalogtest.v1.FeedService.Nothing' names no method", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TwoRulesMatchingTheSameRequests_StopTheCatalog_NamingBoth()
    {
        var contracts = new ContractOptions();
        contracts.Files.Add(CatalogTestReflection.Descriptor);
        var http = ApiConfigs.Parse("""
            http:
              rules:
                - selector: catalogtest.v1.FeedService.InternalOnly
                  get: /v1/things/{topic}
                - selector: catalogtest.v1.FeedService.AnnotatedUnary
                  get: /v1/things/{after_sequence}
            """);
        foreach (var rule in http.Rules)
        {
            contracts.HttpRules[rule.Selector] = rule;
        }

        var error = Assert.Throws<InvalidOperationException>(() => new ContractCatalog(Options.Create(contracts), Options.Create(new EdgeBridgeOptions())));

        Assert.Contains("catalogtest.v1.FeedService.InternalOnly (GET /v1/things/{topic})", error.Message, StringComparison.Ordinal);
        Assert.Contains("catalogtest.v1.FeedService.AnnotatedUnary (GET /v1/things/{after_sequence})", error.Message, StringComparison.Ordinal);
    }
}
