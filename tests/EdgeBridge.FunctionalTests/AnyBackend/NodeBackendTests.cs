using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using EdgeBridge.FunctionalTests.Common;

namespace EdgeBridge.FunctionalTests.AnyBackend;

/// <summary>
/// The edge in front of a gRPC backend that is not .NET — a Node.js server (@grpc/grpc-js, <c>server.cjs</c>) whose
/// proto has no edgebridge.v1 options and no http rules — with nothing but configuration: the descriptor set protoc
/// writes, an API configuration YAML for REST, and EdgeBridge:Contracts:Expose for the stream.
/// </summary>
public sealed class NodeBackendTests() : NodeEdgeTest("node")
{
    private const string Watch = "prices.v1.PriceService/WatchPrices";


    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        var here = NodeBackend.Folder;
        var set = Path.Combine(Scratch, "prices.binpb");
        var (exitCode, output) = await Repository.RunAsync(Repository.Protoc, "--include_imports", "--include_source_info", "--descriptor_set_out=" + set,
            "-I", here, "-I", Repository.StandardProtos, Path.Combine(here, "prices.proto"));
        Assert.True(exitCode == 0, output);

        Node = await NodeBackend.StartAsync();
        await StartEdgeAsync(Node.Port, new Dictionary<string, string?>
        {
            ["EdgeBridge:Contracts:DescriptorSets:0"] = set,
            ["EdgeBridge:Contracts:ApiConfigs:0"] = Path.Combine(here, "prices.yaml"),
            ["EdgeBridge:Contracts:Expose:0:Method"] = Watch,
            ["EdgeBridge:Contracts:Expose:0:Sharing"] = "Shared",
            ["EdgeBridge:Contracts:Expose:0:SlowConsumer"] = "DropOldest",
            ["EdgeBridge:Contracts:Expose:0:Auth"] = "None",
        });
    }

    [Fact]
    public async Task Rest_TranscodedAtTheEdge_FromTheApiConfiguration()
    {
        using var acme = await Rest.GetAsync("/api/prices/ACME");
        using var missing = await Rest.GetAsync("/api/prices/NOPE");
        using var set = await Rest.PutAsync("/api/prices/HOOL", new StringContent("""{"price":43.5}""", Encoding.UTF8, "application/json"));
        using var refused = await Rest.PutAsync("/api/prices/HOOL", new StringContent("""{"price":-1}""", Encoding.UTF8, "application/json"));
        using var malformed = await Rest.PutAsync("/api/prices/HOOL", new StringContent("""{"price":"a lot"}""", Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.OK, acme.StatusCode);
        Assert.Equal("""{"symbol":"ACME","price":101.5,"sequence":"0"}""", await acme.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        var status = JsonNode.Parse(await missing.Content.ReadAsStringAsync())!;
        Assert.Equal((5, "No price for 'NOPE'."), (status["code"]!.GetValue<int>(), status["message"]!.GetValue<string>()));
        Assert.Equal(HttpStatusCode.OK, set.StatusCode);
        Assert.Equal(43.5, JsonNode.Parse(await set.Content.ReadAsStringAsync())!["price"]!.GetValue<double>());
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, malformed.StatusCode);
        Assert.StartsWith("price: ", JsonNode.Parse(await malformed.Content.ReadAsStringAsync())!["message"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task TheStream_IsASubscription_SharedAsConfigured_AndFollowsTheBackend()
    {
        var (first, _) = await EdgeSocket.OpenAsync(Edge);
        var (second, _) = await EdgeSocket.OpenAsync(Edge);
        await using var _1 = first;
        await using var _2 = second;
        await first.SubscribeAsync("p", Watch, new { symbols = new[] { "ACME" } });
        await second.SubscribeAsync("p", Watch, new { symbols = new[] { "ACME" } });
        var (initial, _) = await first.ReceiveUntilAsync(f => f.Type() == "next");
        await second.ReceiveUntilAsync(f => f.Type() == "next");

        using var changed = await Rest.PutAsync("/api/prices/ACME", new StringContent("""{"price":102.25}""", Encoding.UTF8, "application/json"));
        var (update, _) = await first.ReceiveUntilAsync(f => f.Type() == "next" && f.GetProperty("message").GetProperty("price").GetDouble() == 102.25);
        var (same, _) = await second.ReceiveUntilAsync(f => f.Type() == "next" && f.GetProperty("message").GetProperty("price").GetDouble() == 102.25);

        Assert.Equal(101.5, initial.GetProperty("message").GetProperty("price").GetDouble());
        Assert.Equal("ACME", update.GetProperty("message").GetProperty("symbol").GetString());
        Assert.Equal(update.GetProperty("message").GetRawText(), same.GetProperty("message").GetRawText());
    }

    [Fact]
    public async Task BothDocuments_ListTheBackendsMethods()
    {
        using var openApi = JsonDocument.Parse(await Rest.GetStringAsync("/openapi/v1.json"));
        using var asyncApi = JsonDocument.Parse(await Rest.GetStringAsync("/asyncapi/v1.json"));

        var paths = openApi.RootElement.GetProperty("paths");
        Assert.True(paths.TryGetProperty("/api/prices/{symbol}", out var price), string.Join(", ", paths.EnumerateObject().Select(p => p.Name)));
        Assert.True(price.TryGetProperty("get", out _) && price.TryGetProperty("put", out _));
        var watch = asyncApi.RootElement.GetProperty("operations").EnumerateObject().Single(o => o.Name.Contains("WatchPrices", StringComparison.Ordinal)).Value;
        Assert.Equal("shared", watch.GetProperty("x-edgebridge-policy").GetProperty("sharing").GetString());
        // The proto's comments came through the descriptor set.
        Assert.Contains("One symbol's price now.", openApi.RootElement.GetRawText(), StringComparison.Ordinal);
    }
}
