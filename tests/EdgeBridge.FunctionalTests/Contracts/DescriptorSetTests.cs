using EdgeBridge.Contracts;
using EdgeBridge.FunctionalTests.Common;

namespace EdgeBridge.FunctionalTests.Contracts;

/// <summary>
/// The runnable edge reads the sample's contract from the descriptor set its build writes
/// (EdgeBridge:Contracts:DescriptorSets), not from generated code: every other functional test runs through the
/// descriptor-driven codec. These say that it is so, and what a bad set does.
/// </summary>
public sealed class DescriptorSetTests(StackFixture stack) : IClassFixture<StackFixture>
{
    [Fact]
    public void TheEdgesContract_HasNoGeneratedCode()
    {
        var catalog = stack.Edge.Services.GetRequiredService<ContractSource>().Current;

        Assert.NotEmpty(catalog.Methods);
        Assert.All(catalog.Methods, m => Assert.Null(m.Descriptor.OutputType.ClrType));
        Assert.All(catalog.BrowserCalls, m => Assert.Null(m.Descriptor.InputType.ClrType));
    }

    [Theory]
    [InlineData("/no/such/contract.binpb", "is not a readable descriptor set")]
    [InlineData("appsettings.json", "is not a readable descriptor set")]
    public async Task ABadDescriptorSet_StopsTheHost_NamingTheKeyAndTheProblem(string path, string problem)
    {
        await using var backend = new BackendServer();
        await using var edge = new EdgeServer();

        var error = await Assert.ThrowsAnyAsync<Exception>(() => edge.StartAsync(backend, new Dictionary<string, string?>
        {
            ["EdgeBridge:Contracts:DescriptorSets:0"] = path,
        }));

        var messages = string.Join(" | ", Chain(error).Select(e => e.Message));
        Assert.Contains("EdgeBridge:Contracts:DescriptorSets:0", messages, StringComparison.Ordinal);
        Assert.Contains(problem, messages, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ASetMissingItsImports_StopsTheHost_SayingHowToBuildIt()
    {
        // The sample's set without its first files (google/protobuf, google/api, edgebridge/v1): imports unresolved.
        var full = Google.Protobuf.Reflection.FileDescriptorSet.Parser.ParseFrom(File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "contracts", "trading.binpb")));
        var partial = new Google.Protobuf.Reflection.FileDescriptorSet();
        partial.File.AddRange(full.File.Where(f => f.Name.StartsWith("trading/", StringComparison.Ordinal)));
        var path = Path.Combine(Path.GetTempPath(), $"partial-{Guid.NewGuid():N}.binpb");
        await File.WriteAllBytesAsync(path, Google.Protobuf.MessageExtensions.ToByteArray(partial));
        await using var backend = new BackendServer();
        await using var edge = new EdgeServer();

        try
        {
            var error = await Assert.ThrowsAnyAsync<Exception>(() => edge.StartAsync(backend, new Dictionary<string, string?>
            {
                ["EdgeBridge:Contracts:DescriptorSets:0"] = path,
            }));

            Assert.Contains("--include_imports", string.Join(" | ", Chain(error).Select(e => e.Message)), StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static IEnumerable<Exception> Chain(Exception error)
    {
        for (var at = error; at is not null; at = at.InnerException)
        {
            yield return at;
        }
    }
}
