using CatalogTest.V1;
using EdgeBridge.Contracts;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace EdgeBridge.Tests.Contracts;

/// <summary>
/// Reloading the contracts: what counts as a change of a method (<see cref="ContractShape"/>) and what the source does
/// with files that say the same, say something new, or do not load.
/// </summary>
public sealed class ContractSourceTests
{
    private const string Shared = "catalogtest.v1.FeedService/SharedFeed";

    [Fact]
    public void Shape_StaysTheSame_WhenOnlyCommentsOrUnreachableTypesChange()
    {
        var before = Method(Catalog(Files()), Shared);
        var after = Method(Catalog(Files(file =>
        {
            file.SourceCodeInfo = new SourceCodeInfo { Location = { new SourceCodeInfo.Types.Location { Path = { 4, 1 }, LeadingComments = " What a feed says." } } };
            file.MessageType.Add(new DescriptorProto { Name = "Unrelated", Field = { new FieldDescriptorProto { Name = "x", Number = 1, Type = FieldDescriptorProto.Types.Type.String } } });
        })), Shared);

        Assert.NotSame(before, after);
        Assert.Equal(before.Shape, after.Shape);
    }

    [Fact]
    public void Shape_Changes_WithAFieldOfTheResponse_OrThePolicy()
    {
        var before = Method(Catalog(Files()), Shared);
        var field = Method(Catalog(Files(file => file.MessageType.Single(m => m.Name == "FeedResponse").Field.Add(
            new FieldDescriptorProto { Name = "author", JsonName = "author", Number = 3, Type = FieldDescriptorProto.Types.Type.String }))), Shared);
        var policy = Method(Catalog(Files(), new EdgeBridgeOptions { Contracts = { Expose = { new ExposedMethodOptions { Method = Shared, QueueLimit = 7 } } } }), Shared);

        Assert.NotEqual(before.Shape, field.Shape);
        Assert.NotEqual(before.Shape, policy.Shape);
        Assert.NotEqual(field.Shape, policy.Shape);
    }

    [Fact]
    public void Reload_OfTheSameFiles_IsUnchanged_AndRaisesNothing()
    {
        var files = new DiskFiles(Files());
        var source = Source(files, out _);
        var first = source.Current;
        var raised = 0;
        source.Changed += _ => raised++;

        files.Current = Files();

        Assert.Equal(ContractReload.Unchanged, source.Reload());
        Assert.Same(first, source.Current);
        Assert.Equal(1, source.Generation);
        Assert.Equal(0, raised);
    }

    [Fact]
    public void Reload_OfNewFiles_PutsThemInForce_AndTellsWhoListens()
    {
        var files = new DiskFiles(Files());
        var source = Source(files, out var time);
        var before = source.Current;
        var old = Method(before, Shared);
        ContractCatalog? told = null;
        source.Changed += catalog => told = catalog;

        time.Advance(TimeSpan.FromMinutes(5));
        files.Current = Files(file => file.MessageType.Single(m => m.Name == "FeedResponse").Field.Add(
            new FieldDescriptorProto { Name = "author", JsonName = "author", Number = 3, Type = FieldDescriptorProto.Types.Type.String }));

        Assert.Equal(ContractReload.Reloaded, source.Reload());
        Assert.Same(source.Current, told);
        Assert.Equal(2, source.Generation);
        Assert.Equal(time.GetUtcNow(), source.LoadedAt);
        Assert.False(source.IsCurrent(old));
        Assert.True(source.IsCurrent(Method(source.Current, "catalogtest.v1.FeedService/Chat")));

        // A call still running on the old method formats and parses with the mapping of the catalog that resolved it.
        Assert.Same(before.Json, old.Json);
        Assert.Same(source.Current.Json, Method(source.Current, Shared).Json);
        Assert.NotSame(before.Json, source.Current.Json);
    }

    [Fact]
    public void Reload_OfACommentEdit_KeepsEveryMethodCurrent()
    {
        var files = new DiskFiles(Files());
        var source = Source(files, out _);
        var running = source.Current.Methods.ToList();

        files.Current = Files(file => file.SourceCodeInfo = new SourceCodeInfo { Location = { new SourceCodeInfo.Types.Location { Path = { 6 }, LeadingComments = " Feeds." } } });

        Assert.Equal(ContractReload.Reloaded, source.Reload());
        Assert.All(running, method => Assert.True(source.IsCurrent(method), method.FullName));
    }

    [Fact]
    public void Reload_ThatDoesNotLoad_IsRefused_TheCatalogInForceStays_UntilOneLoads()
    {
        var files = new DiskFiles(Files());
        var source = Source(files, out _);
        var first = source.Current;
        var raised = 0;
        source.Changed += _ => raised++;

        files.Fail = "the set is truncated";
        var refused = source.Reload();
        var error = source.LastError;
        files.Fail = null;
        files.Current = Files(file => file.MessageType.Add(new DescriptorProto { Name = "Later" }));
        var reloaded = source.Reload();

        Assert.Equal(ContractReload.Refused, refused);
        Assert.Contains("the set is truncated", error, StringComparison.Ordinal);
        Assert.Equal(ContractReload.Reloaded, reloaded);
        Assert.Null(source.LastError);
        Assert.Equal(1, raised);
        Assert.NotSame(first, source.Current);
    }

    [Fact]
    public void Reload_OfACatalogThatDoesNotHold_IsRefused_NamingTheProblem()
    {
        var files = new DiskFiles(Files());
        var options = new EdgeBridgeOptions();
        var source = new ContractSource(files, Options.Create(options), new FakeTimeProvider(), NullLogger<ContractSource>.Instance);

        // A configured exposure that the new files no longer have: the catalog does not build.
        options.Contracts.Expose.Add(new ExposedMethodOptions { Method = "catalogtest.v1.FeedService/Gone" });
        files.Current = Files(file => file.MessageType.Add(new DescriptorProto { Name = "Later" }));

        Assert.Equal(ContractReload.Refused, source.Reload());
        Assert.Contains("'catalogtest.v1.FeedService/Gone' is not a method of the loaded contracts", source.LastError, StringComparison.Ordinal);
        Assert.Equal(1, source.Generation);
    }

    private static ContractSource Source(DiskFiles files, out FakeTimeProvider time)
    {
        time = new FakeTimeProvider(DateTimeOffset.Parse("2026-12-01T10:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
        return new ContractSource(files, Options.Create(new EdgeBridgeOptions()), time, NullLogger<ContractSource>.Instance);
    }

    private static ContractCatalog Catalog(IReadOnlyList<FileDescriptor> files, EdgeBridgeOptions? options = null)
    {
        var contracts = new ContractOptions();
        contracts.Files.AddRange(files);
        return new ContractCatalog(contracts, options ?? new EdgeBridgeOptions());
    }

    private static StreamingMethod Method(ContractCatalog catalog, string name) =>
        catalog.TryGet(name, out var method) ? method : throw new ArgumentException(name);

    // The test contract as a descriptor set would give it, after an edit of catalog_test.proto.
    private static IReadOnlyList<FileDescriptor> Files(Action<FileDescriptorProto>? edit = null)
    {
        var protos = DescriptorSets.Rebuild([CatalogTestReflection.Descriptor]).Select(f => f.ToProto()).ToList();
        edit?.Invoke(protos.Single(p => p.Name == CatalogTestReflection.Descriptor.Name));
        return DescriptorSets.Build(protos.Select(p => p.ToByteString()));
    }

    // What DescriptorSets would read from disk: whatever the test last wrote, or a load that fails.
    private sealed class DiskFiles(IReadOnlyList<FileDescriptor> initial) : IOptionsFactory<ContractOptions>
    {
        public IReadOnlyList<FileDescriptor> Current { get; set; } = initial;

        public string? Fail { get; set; }

        public ContractOptions Create(string name)
        {
            if (Fail is not null)
            {
                throw new InvalidOperationException(Fail);
            }

            var contracts = new ContractOptions();
            contracts.Files.AddRange(Current);
            return contracts;
        }
    }
}
