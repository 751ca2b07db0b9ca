using EdgeBridge.FunctionalTests.Common;
using Microsoft.Playwright;

namespace EdgeBridge.FunctionalTests.Pages;

/// <summary>The offline /docs page renders both documents and can try a REST call and a subscription.</summary>
public sealed class DocsPageTests(StackFixture stack) : IClassFixture<StackFixture>, IAsyncLifetime
{
    private Browser _browser = null!;

    public async Task InitializeAsync() => _browser = await Browser.LaunchAsync();

    public Task DisposeAsync() => _browser.DisposeAsync().AsTask();

    [Fact]
    public async Task DocsPage_TriesRestCallAndSubscription_WithoutAnyNetwork()
    {
        var context = await _browser.Instance.NewContextAsync();
        var page = await context.NewPageAsync();
        var external = new List<string>();
        page.Request += (_, request) =>
        {
            if (!request.Url.StartsWith(stack.Edge.HttpAddress, StringComparison.Ordinal) && !request.Url.StartsWith("ws://127.0.0.1", StringComparison.Ordinal))
            {
                external.Add(request.Url);
            }
        };
        await page.GotoAsync(stack.Edge.HttpAddress + "/docs");

        var quote = page.Locator("#MarketDataService_GetQuote");
        await quote.Locator("input[placeholder='symbol']").FillAsync("ACME");
        await quote.Locator("button").ClickAsync();
        await Assertions.Expect(quote.Locator("pre")).ToContainTextAsync("\"symbol\": \"ACME\"");

        var stream = page.Locator("[id='trading.v1.MarketDataService.StreamQuotes']");
        await stream.Locator("textarea").FillAsync("{\"symbols\":[\"HOOL\"]}");
        await stream.Locator("button").ClickAsync();
        await Assertions.Expect(stream.Locator("pre").Last).ToContainTextAsync("\"type\":\"next\"");

        await page.ScreenshotAsync(new() { Path = Path.Combine(Browser.ScreenshotDirectory, "docs.png"), FullPage = true });
        Assert.Empty(external);
    }
}
