using EdgeBridge.FunctionalTests.Common;

namespace EdgeBridge.FunctionalTests.Benchmarks;

/// <summary>The harness starts several servers and a load: it runs alone, after the tests it would disturb.</summary>
[CollectionDefinition(nameof(HarnessRunsAlone), DisableParallelization = true)]
public sealed class HarnessRunsAlone;

/// <summary>
/// CI runs only the harness's smoke mode: every system starts, takes subscribers and delivers. The numbers of
/// such a short run mean nothing; docs/benchmarks.md holds those of a real run.
/// </summary>
[Collection(nameof(HarnessRunsAlone))]
public sealed class BenchmarkSmokeTests
{
    [Fact]
    public async Task Harness_SmokeMode_EveryScenarioMeasuresEverySystem()
    {
        var harness = Path.Combine(Repository.Root, "tests", "EdgeBridge.Benchmarks", "bin", "Debug", "net10.0", "EdgeBridge.Benchmarks.dll");
        Assert.True(File.Exists(harness), $"build the solution first: {harness} is missing");

        var (exitCode, output) = await Repository.RunAsync("dotnet", harness, "run", "--smoke");

        Assert.True(exitCode == 0, output);
        foreach (var system in new[] { "edgebridge", "raw", "signalr" })
        {
            Assert.Contains($"| 20 | {system} |", output);
            Assert.Contains($"| 50 % | {system} |", output);
            Assert.Contains($"| {system} | 20 |", output);
        }

        Assert.Contains("| REST via edge |", output);
        Assert.Contains("| gRPC direct |", output);
        Assert.Contains("| push, JSON frames |", output);
        Assert.Contains("| push, proto frames |", output);
        Assert.Contains("| poll every 250 ms |", output);
    }
}
