using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using EdgeBridge.FunctionalTests.Cluster;
using EdgeBridge.FunctionalTests.Common;
using EdgeBridge.Testing;
using Microsoft.Playwright;

namespace EdgeBridge.FunctionalTests.Pages;

/// <summary>
/// A dashboard through HAProxy in front of two edges and two replicas, while orders and chat messages keep coming:
/// an edge is killed and restarted, the other drained and restarted, a replica killed — one at a time. The page never
/// shows an error, stays connected, and shows every order update and chat message exactly once.
/// </summary>
[Collection(PostgresGroup.Name)]
public sealed class EdgeClusterDashboardTests(PostgresServer postgres) : IAsyncLifetime
{
    private static readonly float s_deadline = (float)TimeSpan.FromSeconds(60).TotalMilliseconds;
    private readonly EdgeCluster _cluster = new(postgres);
    private Browser _browser = null!;

    public async Task InitializeAsync()
    {
        await _cluster.StartAsync();
        _browser = await Browser.LaunchAsync();
    }

    public async Task DisposeAsync()
    {
        await _browser.DisposeAsync();
        await _cluster.DisposeAsync();
    }

    [Fact]
    public async Task EdgesAndAReplicaKilledOrDrained_OneAtATime_TheDashboardShowsEveryUpdateOnce()
    {
        var page = await _browser.OpenLoggedInAsync(_cluster.Balancer.HttpAddress, "alice", "wonderland");
        var alice = await _cluster.LoginAsync();
        using var replicaA = new HttpClient { BaseAddress = new Uri(_cluster.ReplicaA.RestAddress) };
        var texts = new List<string>();
        var orders = new List<string>();

        async Task SendSomeAsync(string phase)
        {
            for (var i = 0; i < 2; i++)
            {
                var text = $"{phase} {i} {Guid.NewGuid():N}";
                await PostAsync(replicaA, alice, "/v1/rooms/lobby/messages", new { text });
                texts.Add(text);
                var order = await PostAsync(replicaA, alice, $"/v1/accounts/{alice.AccountId}/orders",
                    new { symbol = "PIED", side = "ORDER_SIDE_BUY", quantity = "1", clientOrderId = Guid.NewGuid().ToString("N") });
                orders.Add(order.GetProperty("order").GetProperty("orderId").GetString()!);
            }

            // Each phase shows on the page before the next fault.
            await Assertions.Expect(page.Locator("#chat-messages li", new() { HasText = texts[^1] })).ToHaveCountAsync(1, new() { Timeout = s_deadline });
        }

        await SendSomeAsync("before");
        await _cluster.Edge1.KillAsync();
        await SendSomeAsync("edge 1 killed");
        await _cluster.Edge1.RestartAsync();
        await _cluster.Balancer.WaitUntilUpAsync("edge1", "edge2");
        await _cluster.Edge2.TerminateAsync();
        await SendSomeAsync("edge 2 draining");
        await _cluster.Edge2.RestartAsync();
        await _cluster.Balancer.WaitUntilUpAsync("edge1", "edge2");
        await _cluster.ReplicaB.KillAsync();
        await SendSomeAsync("replica B killed");

        foreach (var text in texts)
        {
            await Assertions.Expect(page.Locator("#chat-messages li", new() { HasText = text })).ToHaveCountAsync(1, new() { Timeout = s_deadline });
        }

        foreach (var orderId in orders)
        {
            // Accepted and filled.
            await Assertions.Expect(page.Locator($"#order-updates li[data-order-id='{orderId}']")).ToHaveCountAsync(2, new() { Timeout = s_deadline });
        }

        await Assertions.Expect(page.Locator("#connection")).ToHaveAttributeAsync("data-state", "open");
        Assert.DoesNotContain("stopped", await page.Locator("#order-result").TextContentAsync() ?? "");
        await DashboardTests.AssertUniqueSequencesAsync(page, "#chat-messages li");
        await DashboardTests.AssertUniqueSequencesAsync(page, "#order-updates li");
        await page.ScreenshotAsync(new() { Path = Path.Combine(Browser.ScreenshotDirectory, "cluster-edges-killed-and-drained.png"), FullPage = true });
    }

    // Straight to replica A, which no fault here touches: the writes are not what is under test.
    private static async Task<JsonElement> PostAsync(HttpClient replica, Session user, string path, object body)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = JsonContent.Create(body) };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", user.Token);
        using var response = await replica.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();
    }
}
