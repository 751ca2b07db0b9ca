using System.Text.RegularExpressions;
using EdgeBridge.FunctionalTests.Common;
using Microsoft.Playwright;

namespace EdgeBridge.FunctionalTests.Pages;

/// <summary>Access tokens that live six seconds: the edge accepts no clock skew, so a late refresh would show.</summary>
public sealed class ShortTokenStackFixture : StackFixture
{
    protected override IDictionary<string, string?> BackendSettings => new Dictionary<string, string?> { ["Backend:Auth:TokenLifetime"] = "00:00:06" };

    protected override IDictionary<string, string?> EdgeSettings => new Dictionary<string, string?> { ["EdgeBridge:Tokens:ClockSkew"] = "00:00:00" };
}

/// <summary>A dashboard through many token lifetimes: it refreshes before each expiry, and nothing the user sees stops or skips.</summary>
public sealed class TokenLifeTests(ShortTokenStackFixture stack) : IClassFixture<ShortTokenStackFixture>, IAsyncLifetime
{
    private static readonly float s_deadline = (float)TimeSpan.FromSeconds(60).TotalMilliseconds;
    private Browser _browser = null!;

    public async Task InitializeAsync() => _browser = await Browser.LaunchAsync();

    public async Task DisposeAsync() => await _browser.DisposeAsync();

    [Fact]
    public async Task ShortTokens_DashboardRefreshesBeforeEachExpiry_OrderUpdatesNeverStopOrSkip()
    {
        var page = await _browser.OpenLoggedInAsync(stack.Edge.HttpAddress, "alice", "wonderland");
        var refreshes = 0;
        page.Response += (_, response) =>
        {
            if (response.Url.EndsWith("/v1/auth/refresh", StringComparison.Ordinal) && response.Status == 200)
            {
                Interlocked.Increment(ref refreshes);
            }
        };

        // Ten token lifetimes (a 30-second token for five minutes, compressed); after each refresh the page places an order.
        const int lifetimes = 10;
        for (var i = 1; i <= lifetimes; i++)
        {
            await Wait.UntilAsync(() => Volatile.Read(ref refreshes) >= i, $"refresh {i} happens", TimeSpan.FromSeconds(60));
            await page.SelectOptionAsync("#order-symbol", "PIED");
            await page.ClickAsync("#order-form button");
            await Assertions.Expect(page.Locator("#order-updates li[data-status='FILLED']")).ToHaveCountAsync(i, new() { Timeout = s_deadline });
        }

        // Every update once and none missing: 1, 2, ... 2n (accepted and filled for each order), over the one subscription.
        var sequences = await page.Locator("#order-updates li").EvaluateAllAsync<string[]>("items => items.map(i => i.dataset.sequence)");
        Assert.Equal(Enumerable.Range(1, 2 * lifetimes).Select(n => n.ToString(System.Globalization.CultureInfo.InvariantCulture)), sequences.Reverse());
        Assert.DoesNotContain("stopped", await page.Locator("#order-result").TextContentAsync() ?? "");
        await Assertions.Expect(page.Locator("#session")).ToBeHiddenAsync();
        await Assertions.Expect(page.Locator("#connection")).ToHaveAttributeAsync("data-state", "open");
        await page.ScreenshotAsync(new() { Path = Path.Combine(Browser.ScreenshotDirectory, "short-tokens.png"), FullPage = true });
    }
}

/// <summary>An edge whose inbound frame limit the dashboard exceeds at once: it closes the socket with 4429.</summary>
public sealed class TinyFrameBudgetStackFixture : StackFixture
{
    protected override IDictionary<string, string?> EdgeSettings => new Dictionary<string, string?>
    {
        ["EdgeBridge:WebSockets:MaxInboundFramesPerSecond"] = "1",
        ["EdgeBridge:WebSockets:InboundFrameBurst"] = "1",
    };
}

/// <summary>A close that reconnecting cannot fix stops the page's socket for good, with the reason on the page.</summary>
public sealed class TerminalCloseTests(TinyFrameBudgetStackFixture stack) : IClassFixture<TinyFrameBudgetStackFixture>, IAsyncLifetime
{
    private Browser _browser = null!;

    public async Task InitializeAsync() => _browser = await Browser.LaunchAsync();

    public async Task DisposeAsync() => await _browser.DisposeAsync();

    [Fact]
    public async Task FrameLimitExceeded_Closed4429_PageSaysWhy_AndDoesNotReconnect()
    {
        var context = await _browser.Instance.NewContextAsync();
        var page = await context.NewPageAsync();
        var sockets = 0;
        page.WebSocket += (_, _) => Interlocked.Increment(ref sockets);
        await page.GotoAsync(stack.Edge.HttpAddress + "/");
        await page.FillAsync("#username", "alice");
        await page.FillAsync("#password", "wonderland");
        await page.ClickAsync("#login-form button");

        var timeout = new LocatorAssertionsToHaveAttributeOptions { Timeout = (float)Wait.Deadline.TotalMilliseconds };
        await Assertions.Expect(page.Locator("#connection")).ToHaveAttributeAsync("data-state", "closed", timeout);
        await Assertions.Expect(page.Locator("#connection-state")).ToHaveTextAsync(new Regex("closed \\(4429\\)"));

        // Closed, not reconnecting: no timer is left to open another socket.
        Assert.Equal(1, Volatile.Read(ref sockets));
        await page.ScreenshotAsync(new() { Path = Path.Combine(Browser.ScreenshotDirectory, "terminal-close.png"), FullPage = true });
    }
}
