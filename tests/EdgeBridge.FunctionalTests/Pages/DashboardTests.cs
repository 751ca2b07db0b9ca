using System.Text.RegularExpressions;
using EdgeBridge.FunctionalTests.Common;
using Microsoft.Playwright;

namespace EdgeBridge.FunctionalTests.Pages;

/// <summary>The dashboard the edge serves at "/", in a real headless Chromium against a real stack.</summary>
public sealed partial class DashboardTests : IAsyncLifetime
{
    private static readonly TimeSpan s_deadline = Wait.Deadline;
    private readonly StackFixture _stack = new();
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
    public async Task Dashboard_LogIn_QuotesChange_OrderFills()
    {
        var page = await OpenLoggedInAsync("alice", "wonderland");
        var row = page.Locator("#quotes tr[data-symbol='ACME']");

        await Expect(row).ToHaveAttributeAsync("data-sequence", new Regex("\\d+"));
        var first = await row.GetAttributeAsync("data-sequence");
        await Expect(row).Not.ToHaveAttributeAsync("data-sequence", first!, new() { Timeout = Ms(s_deadline) });
        await Expect(page.Locator("#connection")).ToHaveAttributeAsync("data-state", "open");
        await Expect(page.Locator("#latency")).ToContainTextAsync("ms");

        var orderPosts = 0;
        page.Request += (_, request) =>
        {
            if (request.Method == "POST" && request.Url.Contains("/orders", StringComparison.Ordinal))
            {
                Interlocked.Increment(ref orderPosts);
            }
        };
        await page.SelectOptionAsync("#order-symbol", "HOOL");
        await page.FillAsync("#order-quantity", "2");
        await page.ClickAsync("#order-form button");

        await Expect(page.Locator("#order-updates li[data-status='FILLED']").Filter(new() { HasText = "HOOL" }).First).ToBeVisibleAsync(new() { Timeout = Ms(s_deadline) });
        await Expect(page.Locator("#positions tr[data-symbol='HOOL']")).ToBeVisibleAsync(new() { Timeout = Ms(s_deadline) });

        // The socket was open: the order was a call over it, not an HTTP request.
        Assert.Equal(0, Volatile.Read(ref orderPosts));
        await page.ScreenshotAsync(new() { Path = Path.Combine(Browser.ScreenshotDirectory, "dashboard.png"), FullPage = true });
    }

    [Fact]
    public async Task Dashboard_BeforeLogin_QuotesAreLive_AndNothingPrivateShows()
    {
        var context = await _browser.Instance.NewContextAsync();
        var page = await context.NewPageAsync();
        await page.GotoAsync(_stack.Edge.HttpAddress + "/");
        var row = page.Locator("#quotes tr[data-symbol='ACME']");

        await Expect(row).ToHaveAttributeAsync("data-sequence", new Regex("\\d+"), new() { Timeout = Ms(s_deadline) });
        var first = await row.GetAttributeAsync("data-sequence");
        await Expect(row).Not.ToHaveAttributeAsync("data-sequence", first!, new() { Timeout = Ms(s_deadline) });
        await Expect(page.Locator("#login-form")).ToBeVisibleAsync();
        await Expect(page.Locator("#portfolio")).ToBeHiddenAsync();
        await Expect(page.Locator("#order-form")).ToBeHiddenAsync();

        // Logging in signs the same socket in: no second socket, and the quotes go on.
        var sockets = 0;
        page.WebSocket += (_, _) => Interlocked.Increment(ref sockets);
        await page.FillAsync("#password", "wonderland");
        await page.ClickAsync("#login-form button");
        await Expect(page.Locator("#portfolio")).ToBeVisibleAsync(new() { Timeout = Ms(s_deadline) });
        var after = await row.GetAttributeAsync("data-sequence");
        await Expect(row).Not.ToHaveAttributeAsync("data-sequence", after!, new() { Timeout = Ms(s_deadline) });
        Assert.Equal(0, Volatile.Read(ref sockets));
    }

    [Fact]
    public async Task Dashboard_TwoUsersChat_OverOneBidirectionalStreamEach_WithTyping()
    {
        var alice = await OpenLoggedInAsync("alice", "wonderland");
        var bob = await OpenLoggedInAsync("bob", "builder");
        var posts = 0;
        foreach (var page in new[] { alice, bob })
        {
            page.Request += (_, request) =>
            {
                if (request.Method == "POST" && request.Url.Contains("/v1/rooms/", StringComparison.Ordinal))
                {
                    Interlocked.Increment(ref posts);
                }
            };
            await Expect(page.Locator("#chat-transport")).ToHaveTextAsync("over the socket", new() { Timeout = Ms(s_deadline) });
        }

        var tag = Guid.NewGuid().ToString("N")[..6];

        // Alice's message reaches Bob's page: his conversation has joined the room.
        await alice.FillAsync("#chat-text", $"hi bob {tag}");
        await alice.ClickAsync("#chat-form button");
        await Expect(bob.Locator("#chat-messages li", new() { HasText = $"hi bob {tag}" })).ToHaveCountAsync(1, new() { Timeout = Ms(s_deadline) });

        // Typing shows on the other page while it lasts, never on the typist's own.
        await alice.Locator("#chat-text").PressSequentiallyAsync("and");
        await Expect(bob.Locator("#chat-typing")).ToHaveTextAsync("alice is typing…", new() { Timeout = Ms(s_deadline) });
        await Expect(alice.Locator("#chat-typing")).ToHaveTextAsync("");
        await alice.FillAsync("#chat-text", $"and more {tag}");
        await alice.ClickAsync("#chat-form button");
        await Expect(bob.Locator("#chat-typing")).ToHaveTextAsync("", new() { Timeout = Ms(s_deadline) });

        await bob.FillAsync("#chat-text", $"hi alice {tag}");
        await bob.ClickAsync("#chat-form button");

        foreach (var page in new[] { alice, bob })
        {
            foreach (var text in new[] { $"hi bob {tag}", $"and more {tag}", $"hi alice {tag}" })
            {
                await Expect(page.Locator("#chat-messages li", new() { HasText = text })).ToHaveCountAsync(1, new() { Timeout = Ms(s_deadline) });
            }
        }

        // Both messages went over the sockets: no REST post.
        Assert.Equal(0, Volatile.Read(ref posts));
        await bob.ScreenshotAsync(new() { Path = Path.Combine(Browser.ScreenshotDirectory, "chat.png"), FullPage = true });
    }

    [Fact]
    public async Task EdgeRestart_PageReconnects_ShowsEverythingSentMeanwhile_NoneTwice()
    {
        var page = await OpenLoggedInAsync("alice", "wonderland");
        await Expect(page.Locator("#connection")).ToHaveAttributeAsync("data-state", "open");
        var alice = await _stack.LoginAsync();
        var before = await page.Locator("#chat-messages li").CountAsync();

        await _stack.Edge.StopAsync();
        await Expect(page.Locator("#connection")).ToHaveAttributeAsync("data-state", "reconnecting", new() { Timeout = Ms(s_deadline) });

        // While the edge is down, chat messages and orders go straight to the backend.
        using var backend = new HttpClient { BaseAddress = new Uri(_stack.Backend.RestAddress) };
        var texts = Enumerable.Range(1, 3).Select(i => $"while away {i} {Guid.NewGuid():N}").ToList();
        foreach (var text in texts)
        {
            using var post = StackFixture.Request(HttpMethod.Post, "/v1/rooms/lobby/messages", alice, new { text });
            (await backend.SendAsync(post)).EnsureSuccessStatusCode();
        }

        var orderIds = new List<string>();
        for (var i = 0; i < 2; i++)
        {
            using var order = StackFixture.Request(HttpMethod.Post, "/v1/accounts/acc-alice/orders", alice, new { symbol = "UMBR", side = "ORDER_SIDE_BUY", quantity = "1" });
            using var response = await backend.SendAsync(order);
            response.EnsureSuccessStatusCode();
            orderIds.Add(System.Text.Json.JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("order").GetProperty("orderId").GetString()!);
        }

        await _stack.Edge.RestartAsync();

        await Expect(page.Locator("#connection")).ToHaveAttributeAsync("data-state", "open", new() { Timeout = Ms(s_deadline) });
        foreach (var text in texts)
        {
            await Expect(page.Locator("#chat-messages li", new() { HasText = text })).ToHaveCountAsync(1, new() { Timeout = Ms(s_deadline) });
        }

        foreach (var orderId in orderIds)
        {
            await Expect(page.Locator($"#order-updates li[data-order-id='{orderId}']")).ToHaveCountAsync(2, new() { Timeout = Ms(s_deadline) });
        }

        // Nothing twice: every sequence appears once in each list, and the chat has exactly what was sent.
        Assert.Equal(before + texts.Count, await page.Locator("#chat-messages li").CountAsync());
        await AssertUniqueSequencesAsync(page, "#chat-messages li");
        await AssertUniqueSequencesAsync(page, "#order-updates li");
        await page.ScreenshotAsync(new() { Path = Path.Combine(Browser.ScreenshotDirectory, "after-edge-restart.png"), FullPage = true });
    }

    [Fact]
    public async Task Page_ServedWithSelfOnlyContentSecurityPolicy()
    {
        using var response = await _stack.Rest.GetAsync("/");

        response.EnsureSuccessStatusCode();
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        var policy = string.Join(";", response.Headers.GetValues("Content-Security-Policy"));
        Assert.Contains("default-src 'self'", policy);
        Assert.Contains("frame-ancestors 'none'", policy);
        Assert.Equal("nosniff", response.Headers.GetValues("X-Content-Type-Options").Single());
    }

    private Task<IPage> OpenLoggedInAsync(string username, string password) => _browser.OpenLoggedInAsync(_stack.Edge.HttpAddress, username, password);

    internal static async Task AssertUniqueSequencesAsync(IPage page, string selector)
    {
        var sequences = await page.Locator(selector).EvaluateAllAsync<string[]>("items => items.map(i => i.dataset.sequence)");
        Assert.Equal(sequences.Length, sequences.Distinct().Count());
    }

    private static float Ms(TimeSpan span) => (float)span.TotalMilliseconds;

    private static ILocatorAssertions Expect(ILocator locator) => Assertions.Expect(locator);
}
