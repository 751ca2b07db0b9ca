using EdgeBridge.FunctionalTests.Common;
using Microsoft.Playwright;

namespace EdgeBridge.FunctionalTests.Pages;

/// <summary>The offline /docs page renders both documents and can try each kind of operation: REST, a subscription over the socket and as SSE, a socket call, a bidirectional stream.</summary>
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
        await stream.Locator("button", new() { HasText = "Subscribe" }).ClickAsync();
        await Assertions.Expect(stream.Locator("pre").Last).ToContainTextAsync("\"type\":\"next\"");

        // The same stream as server-sent events.
        await stream.Locator("button", new() { HasText = "As server-sent events" }).ClickAsync();
        await Assertions.Expect(stream.Locator("pre").Last).ToContainTextAsync("event: next");

        // A call over the socket.
        var call = page.Locator("[id='trading.v1.MarketDataService.GetQuote.call']");
        await call.Locator("textarea").FillAsync("{\"symbol\":\"PIED\"}");
        await call.Locator("button").ClickAsync();
        await Assertions.Expect(call.Locator("pre").Last).ToContainTextAsync("\"type\":\"result\"");

        // A bidirectional stream: open, send, see the reply, end.
        var (_, login) = await stack.SendAsync(HttpMethod.Post, "/v1/auth/login", body: new { username = "alice", password = "wonderland" });
        await page.FillAsync("#token", login.GetProperty("accessToken").GetString()!);
        var converse = page.Locator("[id='chat.v1.ChatService.Converse']");
        await converse.Locator("button", new() { HasText = "Open" }).ClickAsync();
        var send = converse.Locator("button", new() { HasText = "Send" });
        await Assertions.Expect(send).ToBeEnabledAsync();
        await converse.Locator("textarea").FillAsync("{\"join\":{\"room\":\"docs-page\"}}");
        await send.ClickAsync();
        await converse.Locator("textarea").FillAsync("{\"text\":\"tried from /docs\"}");
        await send.ClickAsync();
        await Assertions.Expect(converse.Locator("pre").Last).ToContainTextAsync("tried from /docs");
        await converse.GetByRole(AriaRole.Button, new() { Name = "End", Exact = true }).ClickAsync();
        await Assertions.Expect(converse.Locator("pre").Last).ToContainTextAsync("\"type\":\"complete\"");

        await page.ScreenshotAsync(new() { Path = Path.Combine(Browser.ScreenshotDirectory, "docs.png"), FullPage = true });
        Assert.Empty(external);
    }
}
