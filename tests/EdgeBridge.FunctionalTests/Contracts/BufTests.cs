using EdgeBridge.FunctionalTests.Common;

namespace EdgeBridge.FunctionalTests.Contracts;

/// <summary>The contract stays lint-clean and never breaks its clients between commits.</summary>
public sealed class BufTests
{
    [Fact]
    public async Task BufLint_Protos_NoViolations()
    {
        await EnsureGoogleProtosLinkedAsync();

        var (exitCode, output) = await Repository.RunAsync(Repository.Buf, "lint");

        Assert.True(exitCode == 0, "buf lint found problems:\n" + output);
    }

    [Fact]
    public async Task BufBreaking_AgainstPreviousCommit_NoBreakingChanges()
    {
        await EnsureGoogleProtosLinkedAsync();
        var baseline = Path.Combine(Path.GetTempPath(), "edgebridge-buf-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(baseline);
        try
        {
            // The previous commit's contract, or this commit's when the previous commit has none.
            var commit = (await Repository.RunAsync("git", "cat-file", "-e", "HEAD~1:buf.yaml")).ExitCode == 0 ? "HEAD~1" : "HEAD";
            var (archived, archiveOutput) = await Repository.RunAsync("bash", "-c", "git archive \"$0\" protos buf.yaml | tar -x -C \"$1\"", commit, baseline);
            Assert.True(archived == 0, archiveOutput);
            Directory.CreateDirectory(Path.Combine(baseline, "third_party"));
            Directory.CreateSymbolicLink(Path.Combine(baseline, "third_party", "googleapis"), GoogleProtosTarget());
            var image = Path.Combine(baseline, "baseline.binpb");
            var (built, buildOutput) = await Repository.RunInAsync(baseline, Repository.Buf, "build", "protos", "-o", image);
            Assert.True(built == 0, "the baseline contract does not build:\n" + buildOutput);

            var (exitCode, output) = await Repository.RunAsync(Repository.Buf, "breaking", "protos", "--against", image);

            Assert.True(exitCode == 0, $"buf breaking against {commit} found breaking changes:\n" + output);
        }
        finally
        {
            Directory.Delete(baseline, recursive: true);
        }
    }

    private static string GoogleProtosTarget() =>
        new DirectoryInfo(Path.Combine(Repository.Root, "third_party", "googleapis")).LinkTarget
        ?? throw new InvalidOperationException("third_party/googleapis is not a link.");

    private static async Task EnsureGoogleProtosLinkedAsync()
    {
        Assert.True(File.Exists(Repository.Buf), $"buf is not installed at {Repository.Buf}; run 'npm ci' in clients/.");
        var (exitCode, output) = await Repository.RunAsync("bash", "eng/link-google-protos.sh");
        Assert.True(exitCode == 0, output);
    }
}
