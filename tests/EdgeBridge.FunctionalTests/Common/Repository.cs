using System.Diagnostics;
using System.Reflection;

namespace EdgeBridge.FunctionalTests.Common;

/// <summary>The repository the tests were built from, and the tools it installs (buf from clients/node_modules).</summary>
public static class Repository
{
    public static string Root { get; } = typeof(Repository).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
        .Single(a => a.Key == "RepoRoot").Value!.TrimEnd('/');

    public static string Buf => Path.Combine(Root, "clients", "node_modules", ".bin", "buf");

    /// <summary>Where google/api/*.proto and google/protobuf/*.proto are, for protoc's import path.</summary>
    public static string GoogleProtos => Metadata("GoogleProtos");

    public static string StandardProtos => Metadata("StandardProtos");

    /// <summary>The protoc that Grpc.Tools ships.</summary>
    public static string Protoc
    {
        get
        {
            var platform = System.Runtime.InteropServices.RuntimeInformation.OSArchitecture == System.Runtime.InteropServices.Architecture.Arm64 ? "linux_arm64" : "linux_x64";
            return Path.GetFullPath(Path.Combine(StandardProtos, "..", "..", "..", "tools", platform, "protoc"));
        }
    }

    private static string Metadata(string key) => typeof(Repository).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == key).Value!;

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
