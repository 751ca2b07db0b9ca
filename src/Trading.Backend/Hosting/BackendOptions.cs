namespace Trading.Backend.Hosting;

/// <summary>Settings of the trading backend, bound from the <c>Backend</c> configuration section.</summary>
public sealed class BackendOptions
{
    public const string SectionName = "Backend";

    public DatabaseOptions Database { get; set; } = new();

    /// <summary>Creates the demo users (alice, bob) and their accounts at startup when they do not exist.</summary>
    public bool SeedDemoData { get; set; }

    public AuthOptions Auth { get; set; } = new();

    public MarketOptions Market { get; set; } = new();
}

public enum DatabaseProvider
{
    /// <summary>One embedded SQLite file: one backend process on one machine.</summary>
    Sqlite,

    /// <summary>A PostgreSQL database shared by several backend replicas.</summary>
    PostgreSql,
}

public sealed class DatabaseOptions
{
    public DatabaseProvider Provider { get; set; } = DatabaseProvider.Sqlite;

    /// <summary>Path of the SQLite file, relative to the content root unless absolute.</summary>
    public string Path { get; set; } = "data/trading.db";

    /// <summary>Npgsql connection string of the PostgreSQL database (<c>Host=...;Port=...;Database=...;Username=...</c>).</summary>
    public string ConnectionString { get; set; } = "";

    /// <summary>How often a backend whose database is unreachable tries again, and how soon a broken notification connection is re-opened.</summary>
    public TimeSpan RetryInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How long a stream follower waits for a commit notification before it reads again anyway; bounds the delay a lost notification can cause.</summary>
    public TimeSpan FeedPollInterval { get; set; } = TimeSpan.FromSeconds(5);
}

public sealed class AuthOptions
{
    public string Issuer { get; set; } = "edgebridge-trading";

    public string Audience { get; set; } = "edgebridge";

    /// <summary>
    /// Base64 HMAC-SHA256 key of at least 32 bytes. When empty, Development and Demo environments generate
    /// one and keep it beside the database so that tokens survive restarts; other environments refuse to start.
    /// </summary>
    public string SigningKey { get; set; } = "";

    /// <summary>Path of a file holding the base64 key; used when <see cref="SigningKey"/> is empty.</summary>
    public string SigningKeyFile { get; set; } = "";

    public TimeSpan TokenLifetime { get; set; } = TimeSpan.FromHours(1);

    /// <summary>How long a refresh token stays valid; each refresh issues a new one with this lifetime.</summary>
    public TimeSpan RefreshTokenLifetime { get; set; } = TimeSpan.FromHours(12);

    /// <summary>
    /// Failed sign-ins one user name may have in a window, counted across every replica and edge; beyond it sign-ins
    /// for that name answer RESOURCE_EXHAUSTED until the window ends. Failures 0 disables it.
    /// </summary>
    public FailedLoginLimit FailedLogins { get; set; } = new();
}

/// <summary>A budget of failed sign-ins: <see cref="Failures"/> per <see cref="Window"/>, the window starting at the first.</summary>
public sealed class FailedLoginLimit
{
    public int Failures { get; set; } = 100;

    public TimeSpan Window { get; set; } = TimeSpan.FromMinutes(5);
}

public sealed class MarketOptions
{
    /// <summary>How often the simulator moves prices.</summary>
    public TimeSpan TickInterval { get; set; } = TimeSpan.FromMilliseconds(250);

    /// <summary>Standard deviation of one tick's relative price move.</summary>
    public double Volatility { get; set; } = 0.0015;

    /// <summary>Seed of the random walk; zero picks a random seed.</summary>
    public int Seed { get; set; }

    /// <summary>
    /// With several replicas: how often a replica tries to take the market lease, and how often its holder checks
    /// that it still holds it. A dead holder's lease is free at once; another replica takes it within this interval.
    /// </summary>
    public TimeSpan LeaseInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// With several replicas: a lease holder whose heartbeat (written every <see cref="LeaseInterval"/>) is older than
    /// this is taken to hang, and another replica ends its session to take the lease. Keep it several intervals long.
    /// </summary>
    public TimeSpan LeaseTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Tradable symbols and their opening prices; empty uses the built-in list.</summary>
    public List<ListedSymbol> Symbols { get; set; } = [];
}

public sealed class ListedSymbol
{
    public string Symbol { get; set; } = "";

    public string Name { get; set; } = "";

    public double OpenPrice { get; set; }
}
