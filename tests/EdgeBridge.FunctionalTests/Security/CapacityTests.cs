using System.Net;
using System.Net.WebSockets;
using EdgeBridge.FunctionalTests.Common;

namespace EdgeBridge.FunctionalTests.Security;

/// <summary>An edge with room for two sockets and a small per-user REST budget (no per-address limit).</summary>
public sealed class SmallEdgeFixture : StackFixture
{
    protected override IDictionary<string, string?> EdgeSettings => new Dictionary<string, string?>
    {
        ["EdgeBridge:WebSockets:MaxConnections"] = "2",
        ["EdgeBridge:Rest:PerAddress:PermitsPerSecond"] = "0",
        ["EdgeBridge:Rest:PerUser:PermitsPerSecond"] = "5",
        ["EdgeBridge:Rest:PerUser:Burst"] = "10",
    };
}

public sealed class CapacityTests(SmallEdgeFixture stack) : IClassFixture<SmallEdgeFixture>
{
    [Fact]
    public async Task EdgeAtConnectionLimit_Upgrade503_ExistingSocketsKeepWorking()
    {
        var (first, _) = await EdgeSocket.OpenAsync(stack.Edge);
        var (second, _) = await EdgeSocket.OpenAsync(stack.Edge);
        await using var _1 = first;
        await using var _2 = second;

        using var refused = new ClientWebSocket();
        refused.Options.AddSubProtocol("edgebridge.v1");
        refused.Options.CollectHttpResponseDetails = true;
        await Assert.ThrowsAsync<WebSocketException>(() => refused.ConnectAsync(new Uri($"ws://127.0.0.1:{stack.Edge.HttpPort}/ws"), CancellationToken.None));

        Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.HttpStatusCode);
        await first.SendAsync(new { type = "ping" });
        Assert.Equal("pong", (await first.ReceiveAsync()).Type());
    }

    [Fact]
    public async Task UserFloodsOrders_429WithRetryAfter_EveryAcceptedOrderKept_OtherUserServed()
    {
        var alice = await stack.LoginAsync();
        var bob = await stack.LoginAsync("bob", "builder");
        var accepted = new List<string>();
        HttpResponseMessage? limited = null;

        for (var i = 0; i < 60 && limited is null; i++)
        {
            var (response, json) = await stack.SendAsync(HttpMethod.Post, "/v1/accounts/acc-alice/orders", alice,
                new { symbol = "INIT", side = "ORDER_SIDE_BUY", quantity = "1" });
            if (response.StatusCode == HttpStatusCode.OK)
            {
                accepted.Add(json.GetProperty("order").GetProperty("orderId").GetString()!);
            }
            else
            {
                Assert.Equal(HttpStatusCode.TooManyRequests, response.StatusCode);
                limited = response;
            }
        }

        Assert.NotNull(limited);
        Assert.NotNull(limited.Headers.RetryAfter);
        var (bobs, _) = await stack.SendAsync(HttpMethod.Get, "/v1/accounts/acc-bob/portfolio", bob);
        Assert.Equal(HttpStatusCode.OK, bobs.StatusCode);

        // Nothing the edge accepted is lost: every order it answered 200 for exists and is filled.
        await Wait.UntilAsync(async () => (await stack.SendAsync(HttpMethod.Get, "/v1/symbols", alice)).Response.StatusCode == HttpStatusCode.OK,
            "alice's budget refills");
        foreach (var orderId in accepted)
        {
            HttpResponseMessage response;
            System.Text.Json.JsonElement json;
            do
            {
                (response, json) = await stack.SendAsync(HttpMethod.Get, $"/v1/accounts/acc-alice/orders/{orderId}", alice);
            }
            while (response.StatusCode == HttpStatusCode.TooManyRequests && await Retry(response));

            Assert.Equal("ORDER_STATUS_FILLED", json.GetProperty("order").GetProperty("status").GetString());
        }
    }

    private static async Task<bool> Retry(HttpResponseMessage response)
    {
        // Honour Retry-After, as a well-behaved client does.
        await Task.Delay(response.Headers.RetryAfter?.Delta ?? TimeSpan.FromSeconds(1));
        return true;
    }
}
