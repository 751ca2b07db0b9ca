using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Trading.Backend.Feed;
using Trading.Backend.Hosting;
using Trading.Backend.Market;
using Trading.Backend.Storage;
using Trading.Backend.Trading;

namespace Trading.Backend.Tests.Common;

/// <summary>A controllable clock.</summary>
public sealed class ManualClock(DateTimeOffset now) : TimeProvider
{
    public DateTimeOffset Now { get; set; } = now;

    public override DateTimeOffset GetUtcNow() => Now;
}

/// <summary>The backend's stores wired by hand on a temporary SQLite file, with the demo users seeded.</summary>
internal sealed class BackendParts : IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "edgebridge-backend-tests", Guid.NewGuid().ToString("N"));

    public BackendParts()
    {
        Directory.CreateDirectory(_directory);
        Options = Microsoft.Extensions.Options.Options.Create(new BackendOptions
        {
            Database = new DatabaseOptions { Path = Path.Combine(_directory, "trading.db") },
            Auth = new AuthOptions { SigningKey = Convert.ToBase64String(new byte[32]) },
        });
        Environment = new Microsoft.Extensions.Hosting.Internal.HostingEnvironment { ContentRootPath = _directory, EnvironmentName = "Testing" };
        Database = new SqliteDatabase(Options, Environment);
        Feed = new SqliteEventFeed(Database, Clock);
        Quotes = new QuoteBook(Options, Clock);
        Orders = new OrderBook(Database, Feed, Quotes, Clock);
        DemoData.SeedAsync(Database, CancellationToken.None).GetAwaiter().GetResult();
    }

    public ManualClock Clock { get; } = new(new DateTimeOffset(2026, 11, 25, 12, 0, 0, TimeSpan.Zero));

    public IOptions<BackendOptions> Options { get; }

    public IHostEnvironment Environment { get; }

    public SqliteDatabase Database { get; }

    public SqliteEventFeed Feed { get; }

    public QuoteBook Quotes { get; }

    public OrderBook Orders { get; }

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
