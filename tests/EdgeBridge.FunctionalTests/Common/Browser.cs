using Microsoft.Playwright;

namespace EdgeBridge.FunctionalTests.Common;

/// <summary>Headless Debian Chromium driven by Playwright (no downloaded browser), plus where screenshots go.</summary>
public sealed class Browser : IAsyncDisposable
{
    private readonly IPlaywright _playwright;

    private Browser(IPlaywright playwright, IBrowser browser)
    {
        _playwright = playwright;
        Instance = browser;
    }

    public IBrowser Instance { get; }

    public static string ScreenshotDirectory { get; } = Path.Combine(Repository.Root, ".artifacts", "screenshots");

    public static async Task<Browser> LaunchAsync()
    {
        const string chromium = "/usr/bin/chromium";
        Assert.True(File.Exists(chromium), "Debian chromium is not installed; './build.sh test' installs it when run as root.");
        var playwright = await Playwright.CreateAsync();
        var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = chromium,
            Headless = true,
            // This machine has no network: keep Chromium from trying to reach Google's services.
            Args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"],
        });
        Directory.CreateDirectory(ScreenshotDirectory);
        return new Browser(playwright, browser);
    }

    /// <summary>Opens the dashboard at <paramref name="edge"/> in a fresh browser context and logs in; a script error fails the test.</summary>
    public async Task<IPage> OpenLoggedInAsync(string edge, string username, string password)
    {
        var context = await Instance.NewContextAsync();
        var page = await context.NewPageAsync();
        var errors = new List<string>();
        page.PageError += (_, error) => errors.Add(error);
        await page.GotoAsync(edge + "/");
        await page.FillAsync("#username", username);
        await page.FillAsync("#password", password);
        await page.ClickAsync("#login-form button");
        await Assertions.Expect(page.Locator("#portfolio")).ToBeVisibleAsync(new() { Timeout = (float)Wait.Deadline.TotalMilliseconds });
        Assert.Empty(errors);
        return page;
    }

    public async ValueTask DisposeAsync()
    {
        await Instance.DisposeAsync();
        _playwright.Dispose();
    }
}
