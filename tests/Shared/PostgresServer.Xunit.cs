namespace EdgeBridge.Testing;

/// <summary>The server as an xunit fixture.</summary>
public sealed partial class PostgresServer : IAsyncLifetime
{
    Task IAsyncLifetime.DisposeAsync() => DisposeAsync().AsTask();
}

/// <summary>One PostgreSQL server for every test class of the collection.</summary>
[CollectionDefinition(Name)]
public sealed class PostgresGroup : ICollectionFixture<PostgresServer>
{
    public const string Name = "PostgreSQL";
}
