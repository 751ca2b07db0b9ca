using System.Text.Json;
using EdgeBridge.FunctionalTests.Common;
using Microsoft.Playwright;

namespace EdgeBridge.FunctionalTests.Pages;

/// <summary>
/// The browser's own <c>EventSource</c> in Debian chromium on an HTTP stream: a room's messages arrive as <c>next</c>
/// events whose ids are their sequences, and when the edge restarts under it, EventSource reconnects by itself with
/// <c>Last-Event-ID</c> and the stream resumes exactly where it was — every message once, in order.
/// </summary>
public sealed class EventSourceTests : IAsyncLifetime
{
    private readonly BackendServer _backend = new();
    private readonly EdgeServer _edge = new();
    private Browser _browser = null!;

    public async Task InitializeAsync()
    {
        await _backend.StartAsync();
        await _edge.StartAsync(_backend, new Dictionary<string, string?> { ["EdgeBridge:Streams:HeartbeatInterval"] = "00:00:01" });
        _browser = await Browser.LaunchAsync();
    }

    public async Task DisposeAsync()
    {
        await _browser.DisposeAsync();
        await _edge.DisposeAsync();
        await _backend.DisposeAsync();
    }

    [Fact]
    public async Task EventSource_ReceivesTheRoom_AndAfterTheEdgeRestartsResumesFromLastEventId()
    {
        using var rest = new HttpClient { BaseAddress = new Uri(_edge.HttpAddress) };
        var login = JsonDocument.Parse(await (await rest.PostAsync("/v1/auth/login", JsonContent("""{"username":"alice","password":"wonderland"}"""))).Content.ReadAsStringAsync()).RootElement;
        var token = login.GetProperty("accessToken").GetString()!;
        var room = "es-" + Guid.NewGuid().ToString("N")[..8];
        // The page's CSP forbids eval, which the test's own polling uses; the page's code is not what is tested.
        var context = await _browser.Instance.NewContextAsync(new() { BypassCSP = true });
        var page = await context.NewPageAsync();
        await page.GotoAsync(_edge.HttpAddress + "/");
        await page.EvaluateAsync("""
            room => {
              window.received = [];
              window.opened = 0;
              const source = new EventSource('/stream/chat.v1.ChatService/StreamRoom?request=' + encodeURIComponent(JSON.stringify({ room })));
              source.onopen = () => window.opened++;
              source.addEventListener('next', e => window.received.push({ id: e.lastEventId, text: JSON.parse(e.data).message.message.text }));
            }
            """, room);

        await PostAsync(rest, token, room, "one", "two", "three");
        await WaitForAsync(page, "window.received.length === 3");

        await _edge.StopAsync();
        await _edge.RestartAsync();
        await PostAsync(rest, token, room, "four", "five");

        // EventSource reconnected by itself (a second open) and asked to resume after id 3.
        await WaitForAsync(page, "window.opened >= 2 && window.received.length >= 5");
        var received = await page.EvaluateAsync<JsonElement>("window.received");
        Assert.Equal(["1", "2", "3", "4", "5"], received.EnumerateArray().Select(e => e.GetProperty("id").GetString()));
        Assert.Equal(["one", "two", "three", "four", "five"], received.EnumerateArray().Select(e => e.GetProperty("text").GetString()));
        await context.CloseAsync();
    }

    private static async Task PostAsync(HttpClient rest, string token, string room, params string[] texts)
    {
        foreach (var text in texts)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, $"/v1/rooms/{room}/messages") { Content = JsonContent(JsonSerializer.Serialize(new { text })) };
            request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
            using var response = await rest.SendAsync(request);
            response.EnsureSuccessStatusCode();
        }
    }

    private static StringContent JsonContent(string json) => new(json, System.Text.Encoding.UTF8, "application/json");

    private static async Task WaitForAsync(IPage page, string condition) =>
        await page.WaitForFunctionAsync(condition, null, new() { Timeout = (float)TimeSpan.FromSeconds(60).TotalMilliseconds });
}
