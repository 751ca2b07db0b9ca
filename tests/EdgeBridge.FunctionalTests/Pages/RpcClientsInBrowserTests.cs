using System.Text.Json;
using EdgeBridge.FunctionalTests.Common;

namespace EdgeBridge.FunctionalTests.Pages;

/// <summary>
/// Clients browser teams already have, unchanged, in Debian Chromium against the edge: connect-es
/// (<c>@connectrpc/connect-web</c>, Connect in JSON and binary, and gRPC-Web) and the <c>grpc-web</c> runtime (binary
/// and text). Each logs in, reads a quote and the portfolio, follows a quote stream and cancels it (the upstream call
/// ends), and meets each error with its code. The code they run is <c>clients/sample/rpc-clients.ts</c>.
/// </summary>
public sealed class RpcClientsInBrowserTests(StackFixture stack) : IClassFixture<StackFixture>, IAsyncLifetime
{
    private const string StreamQuotes = "trading.v1.MarketDataService/StreamQuotes";

    private Browser _browser = null!;
    private string _bundle = null!;

    public async Task InitializeAsync()
    {
        _browser = await Browser.LaunchAsync();
        var output = Path.Combine(Path.GetTempPath(), $"edgebridge-rpc-clients-{Guid.NewGuid():N}.js");
        var clients = Path.Combine(Repository.Root, "clients");
        var (exitCode, log) = await Repository.RunInAsync(clients, Path.Combine(clients, "node_modules", ".bin", "esbuild"),
            "sample/rpc-clients.ts", "--bundle", "--format=iife", "--target=es2022", "--outfile=" + output, "--log-level=warning");
        Assert.True(exitCode == 0, log);
        _bundle = await File.ReadAllTextAsync(output);
        File.Delete(output);
    }

    public Task DisposeAsync() => _browser.DisposeAsync().AsTask();

    [Theory]
    [InlineData("connect()", "connect-es, Connect JSON")]
    [InlineData("connectBinary()", "connect-es, Connect binary")]
    [InlineData("connectGrpcWeb()", "connect-es, gRPC-Web")]
    [InlineData("grpcWeb('binary')", "grpc-web runtime, binary")]
    [InlineData("grpcWeb('text')", "grpc-web runtime, text")]
    public async Task RealClient_WorksForEveryExposedKindOfCall(string run, string client)
    {
        // A page of the edge's own origin; the test's script is added to it, so its CSP is set aside for this context.
        var context = await _browser.Instance.NewContextAsync(new() { BypassCSP = true });
        var page = await context.NewPageAsync();
        var errors = new List<string>();
        page.PageError += (_, error) => errors.Add(error);
        var console = new List<string>();
        page.Console += (_, message) => console.Add(message.Text);
        await page.GotoAsync(stack.Edge.HttpAddress + "/healthz");
        await page.AddScriptTagAsync(new() { Content = _bundle });

        var evaluation = page.EvaluateAsync<string>($"async () => JSON.stringify(await globalThis.edgeRpc.{run})");
        var finished = await Task.WhenAny(evaluation, Task.Delay(Wait.Deadline));
        Assert.True(finished == evaluation, $"{client} did not finish: {string.Join(" | ", console)}");
        var outcome = JsonDocument.Parse(await evaluation).RootElement;

        Assert.True(outcome.GetProperty("quote").GetString() == "ACME", $"{client}: {outcome}");
        Assert.Contains("ACME", outcome.GetProperty("positions").EnumerateArray().Select(p => p.GetString()));
        Assert.Equal(["HOOL", "HOOL"], outcome.GetProperty("streamed").EnumerateArray().Select(s => s.GetString()));
        var failures = outcome.GetProperty("errors");
        var grpcCodes = run.StartsWith("grpcWeb", StringComparison.Ordinal);
        Assert.Equal(grpcCodes ? "5" : "NotFound", failures.GetProperty("notFound").ToString());
        Assert.Equal(grpcCodes ? "7" : "PermissionDenied", failures.GetProperty("foreignAccount").ToString());
        Assert.Equal(grpcCodes ? "16" : "Unauthenticated", failures.GetProperty("anonymous").ToString());
        if (!grpcCodes)
        {
            Assert.Equal("Canceled", outcome.GetProperty("cancelledWith").GetString());
        }

        // The stream the client cancelled is not left running at the backend.
        await Wait.UntilAsync(() => stack.Backend.Calls.Active(StreamQuotes) == 0, $"{client}: the cancelled stream's upstream call ends");
        Assert.Empty(errors);
        await context.CloseAsync();
    }
}
