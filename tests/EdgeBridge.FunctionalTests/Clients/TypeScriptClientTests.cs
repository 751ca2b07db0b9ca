using EdgeBridge.FunctionalTests.Common;

namespace EdgeBridge.FunctionalTests.Clients;

/// <summary>The TypeScript client's own tests (node's test runner), the end-to-end ones against this real stack.</summary>
public sealed class TypeScriptClientTests(StackFixture stack) : IClassFixture<StackFixture>
{
    private static string Clients => Path.Combine(Repository.Root, "clients");

    [Fact]
    public async Task UnitSpecs_Pass()
    {
        var (exitCode, output) = await Repository.RunInAsync(Clients, "bash", "-c", "node --test --test-reporter=spec dist/src/*.spec.js");

        Assert.True(exitCode == 0, output);
        Assert.Contains("fail 0", output);
    }

    [Fact]
    public async Task AgainstRealStack_LoginTradeAndSubscribe_Pass()
    {
        var (exitCode, output) = await Repository.RunInAsync(Clients, "env", $"EDGEBRIDGE_URL={stack.Edge.HttpAddress}",
            "node", "--test", "--test-reporter=spec", "dist/src/stack.e2e.js");

        Assert.True(exitCode == 0, output);
        Assert.Contains("fail 0", output);
    }

    [Fact]
    public async Task GeneratedCode_IsCurrent()
    {
        var scratch = Path.Combine(Path.GetTempPath(), "edgebridge-gen-" + Guid.NewGuid().ToString("N"));
        var template = Path.Combine(scratch, "buf.gen.yaml");
        Directory.CreateDirectory(scratch);
        try
        {
            var config = await File.ReadAllTextAsync(Path.Combine(Repository.Root, "buf.gen.yaml"));
            await File.WriteAllTextAsync(template, config.Replace("out: clients/src/gen", "out: " + Path.Combine(scratch, "gen"), StringComparison.Ordinal));

            var (exitCode, output) = await Repository.RunAsync(Repository.Buf, "generate", "--template", template);
            Assert.True(exitCode == 0, output);

            var (diffCode, diff) = await Repository.RunAsync("diff", "-r", Path.Combine(scratch, "gen"), Path.Combine(Clients, "src", "gen"));
            Assert.True(diffCode == 0, "clients/src/gen is stale; run 'npm run generate' in clients/:\n" + diff);
        }
        finally
        {
            Directory.Delete(scratch, recursive: true);
        }
    }
}
