using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Trading.Backend.Feed;
using Trading.Backend.Hosting;
using Trading.Backend.Market;
using Trading.Backend.Storage;
using Trading.Backend.Storage.PostgreSql;
using Trading.Backend.Trading;

namespace Trading.Backend.Tests.Common;

/// <summary>A controllable clock.</summary>
public sealed class ManualClock(DateTimeOffset now) : TimeProvider
{
    public DateTimeOffset Now { get; set; } = now;

    public override DateTimeOffset GetUtcNow() => Now;
}

/// <summary>
/// The backend's stores wired by hand, with the demo users seeded: on a temporary SQLite file, or — as one of
/// several replicas — on a PostgreSQL database, with the listener that carries the other replicas' commits.
/// </summary>
internal sealed class BackendParts : IAsyncDisposable, IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "edgebridge-backend-tests", Guid.NewGuid().ToString("N"));
    private PostgresNotificationListener? _listener;

    /// <summary>On a new SQLite file.</summary>
    public BackendParts()
        : this(null)
    {
        DemoData.SeedAsync(Database, CancellationToken.None).GetAwaiter().GetResult();
        Database.MarkReady();
    }

    private BackendParts(string? postgres, Action<BackendOptions>? configure = null)
    {
        Directory.CreateDirectory(_directory);
        Options = Microsoft.Extensions.Options.Options.Create(new BackendOptions
        {
            Database = new DatabaseOptions
            {
                Provider = postgres is null ? DatabaseProvider.Sqlite : DatabaseProvider.PostgreSql,
                Path = Path.Combine(_directory, "trading.db"),
                ConnectionString = postgres ?? "",
                RetryInterval = TimeSpan.FromMilliseconds(100),
            },
            Auth = new AuthOptions { SigningKey = Convert.ToBase64String(new byte[32]) },
        });
        configure?.Invoke(Options.Value);
        Environment = new Microsoft.Extensions.Hosting.Internal.HostingEnvironment { ContentRootPath = _directory, EnvironmentName = "Testing" };
        Database = postgres is null ? new SqliteDatabase(Options, Environment) : new PostgresDatabase(Options, Environment);
        Feed = new DatabaseEventFeed(Database, Clock, Options);
        Quotes = new QuoteBook(Options, Clock);
        Orders = new OrderBook(Database, Feed, Quotes, Clock);
    }

    /// <summary>One replica on the PostgreSQL database <paramref name="connectionString"/>, listening for the others' commits.</summary>
    public static async Task<BackendParts> PostgresAsync(string connectionString, Action<BackendOptions>? configure = null)
    {
        var parts = new BackendParts(connectionString, configure);
        await parts.Database.CreateSchemaAsync(CancellationToken.None);
        await DemoData.SeedAsync(parts.Database, CancellationToken.None);
        parts.Database.MarkReady();
        var database = (PostgresDatabase)parts.Database;
        parts.Replication = new PostgresQuoteReplication(database);
        // Real time: the listener's retry delays must not wait for the manual clock.
        parts._listener = new PostgresNotificationListener(database, parts.Feed, parts.Quotes, parts.Replication, parts.Options, TimeProvider.System,
            NullLogger<PostgresNotificationListener>.Instance);
        await parts._listener.StartAsync(CancellationToken.None);
        await parts._listener.Listening.WaitAsync(TimeSpan.FromSeconds(60));
        return parts;
    }

    public ManualClock Clock { get; } = new(new DateTimeOffset(2026, 11, 25, 12, 0, 0, TimeSpan.Zero));

    public IOptions<BackendOptions> Options { get; }

    public IHostEnvironment Environment { get; }

    public Database Database { get; }

    public DatabaseEventFeed Feed { get; }

    public QuoteBook Quotes { get; }

    public OrderBook Orders { get; }

    /// <summary>The PostgreSQL replica's quote replication; null on SQLite.</summary>
    public PostgresQuoteReplication? Replication { get; private set; }

    public async ValueTask DisposeAsync()
    {
        if (_listener is not null)
        {
            await _listener.StopAsync(CancellationToken.None);
            _listener.Dispose();
        }

        Dispose();
    }

    public void Dispose()
    {
        Database.Dispose();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
