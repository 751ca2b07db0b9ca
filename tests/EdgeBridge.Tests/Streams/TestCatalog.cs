using CatalogTest.V1;
using EdgeBridge.Contracts;
using Microsoft.Extensions.Options;

namespace EdgeBridge.Tests.Streams;

/// <summary>The test contract's catalog (catalog_test.proto), for the stream tests.</summary>
internal static class TestCatalog
{
    public static ContractCatalog Instance { get; } = Create();

    public static StreamingMethod Method(string name) =>
        Instance.TryGet("catalogtest.v1.FeedService/" + name, out var method) ? method : throw new ArgumentException(name);

    private static ContractCatalog Create()
    {
        var contracts = new ContractOptions();
        contracts.Files.Add(CatalogTestReflection.Descriptor);
        return new ContractCatalog(Options.Create(contracts), Options.Create(new EdgeBridgeOptions()));
    }
}
