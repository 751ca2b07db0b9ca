using System.Text.RegularExpressions;
using EdgeBridge.FunctionalTests.Common;
using Microsoft.Playwright;

namespace EdgeBridge.FunctionalTests.Pages;

/// <summary>
/// The dashboard in Chromium on a path that blocks WebSockets (every upgrade is closed before the edge's ack, as a
/// proxy that refuses them would): after a few attempts its streams continue over server-sent events — public
/// quotes, and the signed-in user's order updates with the token in a header — and move back to the socket, from
/// their cursors, once WebSockets get through again.
/// </summary>
public sealed class HttpFallbackTests(StackFixture stack) : IClassFixture<StackFixture>, IAsyncLifetime
{
    private static readonly float s_deadline = (float)Wait.Deadline.TotalMilliseconds;
    private Browser _browser = null!;

    public async Task InitializeAsync() => _browser = await Browser.LaunchAsync();

    public async Task DisposeAsync() => await _browser.DisposeAsync();

    [Fact]
    public async Task WebSocketsBlocked_StreamsContinueOverSse_AndMoveBackWhenTheSocketWorks()
    {
        var context = await _browser.Instance.NewContextAsync();
        var page = await context.NewPageAsync();
        var errors = new List<string>();
        page.PageError += (_, error) => errors.Add(error);
        var blocked = true;
        var refused = 0;
        await page.RouteWebSocketAsync(new Regex("/ws$"), socket =>
        {
            if (Volatile.Read(ref blocked))
            {
                Interlocked.Increment(ref refused);
                _ = socket.CloseAsync(new() { Code = 1013, Reason = "blocked by the test's proxy" });
            }
            else
            {
                socket.ConnectToServer();
            }
        });
        var streams = new List<string>();
        page.Request += (_, request) =>
        {
            if (request.Url.Contains("/stream/", StringComparison.Ordinal))
            {
                lock (streams)
                {
                    streams.Add(request.Url);
                }
            }
        };

        await page.GotoAsync(stack.Edge.HttpAddress + "/");

        // Public quotes over HTTP, before anyone logs in.
        var connection = page.Locator("#connection");
        await Assertions.Expect(connection).ToHaveAttributeAsync("data-transport", "http", new() { Timeout = s_deadline });
        await Assertions.Expect(page.Locator("#connection-state")).ToHaveTextAsync("live over HTTP");
        var row = page.Locator("#quotes tr[data-symbol='ACME']");
        await Assertions.Expect(row).ToHaveAttributeAsync("data-sequence", new Regex("\\d+"), new() { Timeout = s_deadline });
        var first = await row.GetAttributeAsync("data-sequence");
        await Assertions.Expect(row).Not.ToHaveAttributeAsync("data-sequence", first!, new() { Timeout = s_deadline });
        Assert.True(Volatile.Read(ref refused) >= 3);

        // Signed in: the user's own stream goes over HTTP too (token in the Authorization header), and an order placed
        // over REST shows its fill on it.
        await page.FillAsync("#password", "wonderland");
        await page.ClickAsync("#login-form button");
        await Assertions.Expect(page.Locator("#portfolio")).ToBeVisibleAsync(new() { Timeout = s_deadline });
        await page.SelectOptionAsync("#order-symbol", "PIED");
        await page.ClickAsync("#order-form button");
        var filled = page.Locator("#order-updates li[data-status='FILLED']").Filter(new() { HasText = "PIED" });
        await Assertions.Expect(filled.First).ToBeVisibleAsync(new() { Timeout = s_deadline });
        lock (streams)
        {
            Assert.Contains(streams, url => url.EndsWith("/stream/trading.v1.TradingService/StreamOrderUpdates", StringComparison.Ordinal));
            Assert.DoesNotContain(streams, url => url.Contains('?', StringComparison.Ordinal));
        }

        // WebSockets get through again: the page moves back to the socket and its streams go on from their cursors.
        Volatile.Write(ref blocked, false);
        await Assertions.Expect(connection).ToHaveAttributeAsync("data-state", "open", new() { Timeout = s_deadline });
        await Assertions.Expect(connection).ToHaveAttributeAsync("data-transport", "websocket");
        var onSocket = await row.GetAttributeAsync("data-sequence");
        await Assertions.Expect(row).Not.ToHaveAttributeAsync("data-sequence", onSocket!, new() { Timeout = s_deadline });
        await page.ClickAsync("#order-form button");
        await Assertions.Expect(filled).ToHaveCountAsync(2, new() { Timeout = s_deadline });
        await DashboardTests.AssertUniqueSequencesAsync(page, "#order-updates li");
        Assert.Empty(errors);
        await page.ScreenshotAsync(new() { Path = Path.Combine(Browser.ScreenshotDirectory, "http-fallback.png"), FullPage = true });
    }
}
