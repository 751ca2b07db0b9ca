using System.Net;
using System.Text.Json;
using EdgeBridge.FunctionalTests.AnyBackend;
using EdgeBridge.FunctionalTests.Common;

namespace EdgeBridge.FunctionalTests.Contracts;

/// <summary>
/// Contracts read from the backend's gRPC server reflection (<c>EdgeBridge:Contracts:Reflection</c>), with no
/// descriptor set for it: the Node.js backend (AnyBackend/server.cjs, @grpc/reflection). The edge is not ready until
/// it has read them, says why, and reads them again as soon as the replica it read them from comes back.
/// </summary>
public sealed class ReflectionTests() : NodeEdgeTest("reflection")
{
    private const string Watch = "prices.v1.PriceService/WatchPrices";
    private const string AdminKey = "reflection-operator-key";


    [Fact]
    public async Task TheBackendsOwnReflection_GivesRest_ASubscription_AndTheDocuments()
    {
        Node = await NodeBackend.StartAsync(reflection: true);
        await StartEdgeAsync(Node.Port);

        await Wait.UntilAsync(async () => (await Rest.GetAsync("/readyz")).StatusCode == HttpStatusCode.OK, "the edge is ready");
        using var price = await Rest.GetAsync("/api/prices/ACME");
        var (socket, _) = await EdgeSocket.OpenAsync(Edge);
        await using var _1 = socket;
        await socket.SubscribeAsync("p", Watch, new { symbols = new[] { "HOOL" } });
        var (first, _) = await socket.ReceiveUntilAsync(f => f.Id() == "p");
        using var asyncApi = JsonDocument.Parse(await Rest.GetStringAsync("/asyncapi/v1.json"));

        Assert.Equal(HttpStatusCode.OK, price.StatusCode);
        Assert.Equal("""{"symbol":"ACME","price":101.5,"sequence":"0"}""", await price.Content.ReadAsStringAsync());
        Assert.Equal("next", first.Type());
        Assert.Equal(42.25, first.GetProperty("message").GetProperty("price").GetDouble());
        Assert.Contains(asyncApi.RootElement.GetProperty("operations").EnumerateObject(), o => o.Name.Contains("WatchPrices", StringComparison.Ordinal));
    }

    [Fact]
    public async Task WithoutReflection_TheEdgeIsNotReady_SaysWhy_AndBecomesReadyWhenTheBackendServesIt()
    {
        Node = await NodeBackend.StartAsync(reflection: false);
        var port = Node.Port;
        await StartEdgeAsync(port);

        var detail = "";
        await Wait.UntilAsync(async () =>
        {
            using var ready = await Rest.GetAsync("/readyz");
            detail = await ready.Content.ReadAsStringAsync();
            return ready.StatusCode == HttpStatusCode.ServiceUnavailable && detail.Contains("server reflection", StringComparison.Ordinal)
                && detail.Contains("Unimplemented", StringComparison.Ordinal);
        }, "/readyz names the missing reflection");
        using var before = await Rest.GetAsync("/api/prices/ACME");

        await Node.DisposeAsync();
        Node = await NodeBackend.StartAsync(port: port, reflection: true);
        await Wait.UntilAsync(async () => (await Rest.GetAsync("/readyz")).StatusCode == HttpStatusCode.OK, "the edge is ready");
        using var after = await Rest.GetAsync("/api/prices/ACME");

        Assert.Contains("contracts:", detail, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.NotFound, before.StatusCode);
        Assert.Equal(HttpStatusCode.OK, after.StatusCode);
    }

    [Fact]
    public async Task AReplicaThatComesBackWithAnotherContract_IsReadAgainAtOnce_NotAtTheNextRefresh()
    {
        Node = await NodeBackend.StartAsync(reflection: true);
        var port = Node.Port;
        await StartEdgeAsync(port);
        var before = await MethodsWhenAsync(count => count > 0);

        // A new release of the backend: one method more. The refresh is ten minutes away.
        var proto = Path.Combine(Scratch, "prices.proto");
        await File.WriteAllTextAsync(proto, (await File.ReadAllTextAsync(Path.Combine(NodeBackend.Folder, "prices.proto"))).Replace(
            "service PriceService {", "service PriceService {\n  // Every symbol with a price.\n  rpc ListSymbols(WatchPricesRequest) returns (WatchPricesRequest);\n", StringComparison.Ordinal));
        await Node.KillAsync();
        await Node.DisposeAsync();
        Node = await NodeBackend.StartAsync(proto, port, reflection: true);
        var after = await MethodsWhenAsync(count => count > before);

        Assert.Equal(before + 1, after);
    }

    private Task StartEdgeAsync(int port) => StartEdgeAsync(port, new Dictionary<string, string?>
    {
        ["EdgeBridge:Contracts:Reflection"] = "true",
        ["EdgeBridge:Contracts:ReflectionRefresh"] = "00:10:00",
        ["EdgeBridge:Contracts:ApiConfigs:0"] = Path.Combine(NodeBackend.Folder, "prices.yaml"),
        ["EdgeBridge:Contracts:Expose:0:Method"] = Watch,
        ["EdgeBridge:Contracts:Expose:0:Sharing"] = "Shared",
        ["EdgeBridge:Contracts:Expose:0:Auth"] = "None",
        ["EdgeBridge:Admin:ApiKey"] = AdminKey,
    });

    // The admin view's method count: the sample's own contract (the host's descriptor set) stays as it is, so a
    // change is the backend's. Read once the reflected stream is in the catalog.
    private async Task<int> MethodsWhenAsync(Func<int, bool> condition)
    {
        var methods = 0;
        await Wait.UntilAsync(async () =>
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/admin/contracts");
            request.Headers.Add("x-edgebridge-admin-key", AdminKey);
            using var response = await Rest.SendAsync(request);
            using var state = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            methods = state.RootElement.GetProperty("streams").EnumerateArray().Any(s => s.GetString() == Watch)
                ? state.RootElement.GetProperty("methods").GetInt32() : 0;
            return condition(methods);
        }, "the contracts read through reflection");
        return methods;
    }
}
