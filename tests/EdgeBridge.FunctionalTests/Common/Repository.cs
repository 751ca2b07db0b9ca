using System.Diagnostics;
using System.Reflection;

namespace EdgeBridge.FunctionalTests.Common;

/// <summary>The repository the tests were built from, and the tools it installs (buf from clients/node_modules).</summary>
public static class Repository
{
    public static string Root { get; } = typeof(Repository).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
        .Single(a => a.Key == "RepoRoot").Value!.TrimEnd('/');

    public static string Buf => Path.Combine(Root, "clients", "node_modules", ".bin", "buf");

    public static Task<(int ExitCode, string Output)> RunAsync(string fileName, params string[] arguments) =>
        RunInAsync(Root, fileName, arguments);

    public static async Task<(int ExitCode, string Output)> RunInAsync(string workingDirectory, string fileName, params string[] arguments)
    {
        var start = new ProcessStartInfo(fileName, arguments)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {fileName}.");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        // Generous: the benchmark smoke run alone takes a minute on a quiet 2-core machine.
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(6));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            // A hung child fails the test with what it printed so far, not with a bare cancellation.
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
            return (-1, $"{fileName} {string.Join(' ', arguments)} did not finish within 6 minutes; its output:\n" + (await stdout) + (await stderr));
        }

        return (process.ExitCode, (await stdout) + (await stderr));
    }
}
