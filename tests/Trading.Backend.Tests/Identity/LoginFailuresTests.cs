using EdgeBridge.Testing;
using Grpc.Core;
using Trading.Backend.Identity;
using Trading.Backend.Tests.Common;

namespace Trading.Backend.Tests.Identity;

/// <summary>The failed sign-in budget per user name, on each store; on PostgreSQL, one budget for every replica.</summary>
public abstract class LoginFailuresTests : IAsyncLifetime
{
    private const int Budget = 5;

    private BackendParts _parts = null!;

    private protected abstract Task<BackendParts> CreatePartsAsync(Action<Hosting.BackendOptions> configure);

    private protected BackendParts Parts => _parts;

    public async Task InitializeAsync() => _parts = await CreatePartsAsync(Configure);

    public async Task DisposeAsync() => await _parts.DisposeAsync();

    private protected static void Configure(Hosting.BackendOptions options) =>
        options.Auth.FailedLogins = new Hosting.FailedLoginLimit { Failures = Budget, Window = TimeSpan.FromMinutes(5) };

    private protected LoginFailures Failures(BackendParts parts) => new(parts.Database, parts.Options, _parts.Clock);

    [Fact]
    public async Task BudgetUsed_RefusedWithRetryInfo_UntilTheWindowEnds_OtherNamesUnaffected()
    {
        var failures = Failures(_parts);
        for (var i = 0; i < Budget - 1; i++)
        {
            await failures.RecordAsync("alice", CancellationToken.None);
        }

        Assert.Null(failures.Refusal("alice"));
        await failures.RecordAsync("alice", CancellationToken.None);
        _parts.Clock.Now += TimeSpan.FromMinutes(1);

        var refusal = failures.Refusal("alice");
        Assert.NotNull(refusal);
        Assert.Equal(StatusCode.ResourceExhausted, refusal.StatusCode);
        var retry = refusal.GetRpcStatus()!.GetDetail<Google.Rpc.RetryInfo>();
        Assert.Equal(TimeSpan.FromMinutes(4), retry.RetryDelay.ToTimeSpan());
        Assert.Null(failures.Refusal("bob"));

        _parts.Clock.Now += TimeSpan.FromMinutes(4);
        Assert.Null(failures.Refusal("alice"));
    }

    [Fact]
    public async Task AfterTheWindow_CountingStartsAgain_AndOldRowsAreGone()
    {
        var failures = Failures(_parts);
        for (var i = 0; i < Budget; i++)
        {
            await failures.RecordAsync("nobody-" + i, CancellationToken.None);
        }

        _parts.Clock.Now += TimeSpan.FromMinutes(6);
        await failures.RecordAsync("alice", CancellationToken.None);

        var rows = _parts.Database.Read(connection =>
        {
            using var count = Storage.Database.Command(connection, null, "SELECT COUNT(*) FROM login_failures");
            return Convert.ToInt64(count.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
        });
        Assert.Equal(1, rows);
    }
}

public sealed class SqliteLoginFailuresTests : LoginFailuresTests
{
    private protected override Task<BackendParts> CreatePartsAsync(Action<Hosting.BackendOptions> configure)
    {
        var parts = new BackendParts();
        configure(parts.Options.Value);
        return Task.FromResult(parts);
    }
}

[Collection(PostgresGroup.Name)]
public sealed class PostgresLoginFailuresTests(PostgresServer postgres) : LoginFailuresTests
{
    private string _database = "";

    private protected override async Task<BackendParts> CreatePartsAsync(Action<Hosting.BackendOptions> configure) =>
        await BackendParts.PostgresAsync(_database = await postgres.CreateDatabaseAsync(), configure);

    [Fact]
    public async Task GuessesSpreadOverReplicas_ShareOneBudget()
    {
        await using var other = await BackendParts.PostgresAsync(_database, Configure);
        var (a, b) = (Failures(Parts), Failures(other));

        for (var i = 0; i < 5; i++)
        {
            await (i % 2 == 0 ? a : b).RecordAsync("alice", CancellationToken.None);
        }

        Assert.NotNull(a.Refusal("alice"));
        Assert.NotNull(b.Refusal("alice"));
    }
}
