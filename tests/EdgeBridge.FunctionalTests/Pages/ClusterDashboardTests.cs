using System.Net;
using System.Text.Json;
using EdgeBridge.FunctionalTests.Common;
using EdgeBridge.FunctionalTests.Replicas;
using EdgeBridge.Testing;
using Microsoft.Playwright;

namespace EdgeBridge.FunctionalTests.Pages;

/// <summary>
/// Two dashboards in front of two replicas on PostgreSQL; one replica is killed with SIGKILL while orders and chat
/// messages arrive: neither dashboard shows an error, and each shows every order update and chat message once.
/// </summary>
[Collection(PostgresGroup.Name)]
public sealed class ClusterDashboardTests(PostgresServer postgres) : IAsyncLifetime
{
    private static readonly float s_deadline = (float)TimeSpan.FromSeconds(60).TotalMilliseconds;
    private readonly PostgresReplicas _stack = new(postgres);
    private Browser _browser = null!;

    public async Task InitializeAsync()
    {
        await _stack.InitializeAsync();
        _browser = await Browser.LaunchAsync();
    }

    public async Task DisposeAsync()
    {
        await _browser.DisposeAsync();
        await _stack.DisposeAsync();
    }

    [Fact]
    public async Task ReplicaKilled_TwoDashboards_NoErrorAndEveryOrderUpdateAndChatMessageOnce()
    {
        var pages = new[] { await _browser.OpenLoggedInAsync(_stack.Edge.HttpAddress, "alice", "wonderland"), await _browser.OpenLoggedInAsync(_stack.Edge.HttpAddress, "bob", "builder") };
        var users = new[] { await _stack.LoginAsync("alice", "wonderland"), await _stack.LoginAsync("bob", "builder") };
        var texts = new List<string>();
        var orders = new List<string>[] { [], [] };

        async Task SendSomeAsync(string phase)
        {
            for (var i = 0; i < 3; i++)
            {
                var text = $"{phase} {i} {Guid.NewGuid():N}";
                await PostUntilAcceptedAsync(users[i % 2], "/v1/rooms/lobby/messages", new { text });
                texts.Add(text);
                for (var u = 0; u < 2; u++)
                {
                    var order = await PostUntilAcceptedAsync(users[u], $"/v1/accounts/{users[u].AccountId}/orders",
                        new { symbol = "PIED", side = "ORDER_SIDE_BUY", quantity = "1", clientOrderId = Guid.NewGuid().ToString("N") });
                    orders[u].Add(order.GetProperty("order").GetProperty("orderId").GetString()!);
                }
            }
        }

        await SendSomeAsync("before");
        await _stack.ReplicaB.KillAsync();
        await SendSomeAsync("after");
        // The dashboards' calls were spread over both replicas: those on B were re-opened on A.
        await Wait.UntilAsync(async () => ReplicaHealthTests.Reopened(await _stack.Rest.GetStringAsync("/metrics")) >= 1, "the calls on the killed replica are re-opened");

        for (var u = 0; u < 2; u++)
        {
            var page = pages[u];
            foreach (var text in texts)
            {
                await Assertions.Expect(page.Locator("#chat-messages li", new() { HasText = text })).ToHaveCountAsync(1, new() { Timeout = s_deadline });
            }

            foreach (var orderId in orders[u])
            {
                // Accepted and filled.
                await Assertions.Expect(page.Locator($"#order-updates li[data-order-id='{orderId}']")).ToHaveCountAsync(2, new() { Timeout = s_deadline });
            }

            await Assertions.Expect(page.Locator("#connection")).ToHaveAttributeAsync("data-state", "open");
            Assert.DoesNotContain("stopped", await page.Locator("#order-result").TextContentAsync() ?? "");
            await DashboardTests.AssertUniqueSequencesAsync(page, "#chat-messages li");
            await DashboardTests.AssertUniqueSequencesAsync(page, "#order-updates li");
            await page.ScreenshotAsync(new() { Path = Path.Combine(Browser.ScreenshotDirectory, $"cluster-replica-killed-{u}.png"), FullPage = true });
        }
    }

    // What a careful client does while a replica dies: retry what answered 502/503 (orders keep their client_order_id).
    private async Task<JsonElement> PostUntilAcceptedAsync(Session user, string path, object body)
    {
        JsonElement json = default;
        await Wait.UntilAsync(async () =>
        {
            try
            {
                var (response, answer) = await _stack.SendAsync(HttpMethod.Post, path, user, body);
                using (response)
                {
                    Assert.Contains(response.StatusCode, new[] { HttpStatusCode.OK, HttpStatusCode.BadGateway, HttpStatusCode.ServiceUnavailable });
                    json = answer;
                    return response.StatusCode == HttpStatusCode.OK;
                }
            }
            catch (HttpRequestException)
            {
                return false;
            }
        }, $"POST {path} is accepted", TimeSpan.FromSeconds(60));
        return json;
    }
}
