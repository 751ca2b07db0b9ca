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

        var directory = Directory.CreateTempSubdirectory("edgebridge-bench-");
        try
        {
            var report = Path.Combine(directory.FullName, "bench.md");
            var (exitCode, output) = await Repository.RunAsync("dotnet", harness, "run", "--smoke", "--report", report);

            Assert.True(exitCode == 0, output);
            AssertTables(output);
            AssertTables(await File.ReadAllTextAsync(report));
            AssertCharts(directory.FullName, await File.ReadAllTextAsync(report));
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    private static void AssertTables(string output)
    {
        foreach (var system in new[] { "edgebridge", "raw", "signalr" })
        {
            Assert.Contains($"| 20 | {system} |", output);
            Assert.Contains($"| 50 % | {system} |", output);
            Assert.Contains($"| {system} | 20 |", output);
        }

        Assert.Contains("| REST via edge |", output);
        Assert.Contains("| REST via YARP |", output);
        Assert.Contains("### At the same request rate", output);
        Assert.Contains("| gRPC direct |", output);
        Assert.Contains("| edgebridge | ", output[output.IndexOf("### Cold start", StringComparison.Ordinal)..]);
        Assert.Contains("| push, JSON frames |", output);
        Assert.Contains("| push, proto frames |", output);
        Assert.Contains("| poll every 250 ms |", output);
        Assert.Contains("| cross-replica (post on A, stream from B) |", output);
        Assert.Contains("| replica B killed |", output);
        var storm = output[output.IndexOf("## Reconnect storm: 20 clients", StringComparison.Ordinal)..];
        Assert.Contains("| edgebridge | 20 | 20 | 0 |", storm);
        Assert.Contains("| signalr | 20 | 20 | 0 |", storm);
    }

    /// <summary>Every scenario's chart is written next to the report, linked from it, and draws a bar per row.</summary>
    private static void AssertCharts(string directory, string report)
    {
        foreach (var scenario in new[] { "fanout", "latency", "idle", "rest", "polling" })
        {
            var name = $"bench-{scenario}.svg";
            Assert.Contains($"]({name})", report);
            var svg = System.Xml.Linq.XDocument.Load(Path.Combine(directory, name));
            var bars = svg.Descendants().Count(e => e.Name.LocalName == "rect") - 1; // the first is the background
            Assert.True(bars >= 3, $"{name} has {bars} bars");
        }
    }
}
