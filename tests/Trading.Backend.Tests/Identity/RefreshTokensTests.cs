using EdgeBridge.Testing;
using Grpc.Core;
using Trading.Backend.Identity;
using Trading.Backend.Tests.Common;

namespace Trading.Backend.Tests.Identity;

/// <summary>Refresh token rotation and reuse detection, on each store.</summary>
public abstract class RefreshTokensTests : IAsyncLifetime
{
    private BackendParts _parts = null!;

    private protected abstract Task<BackendParts> CreatePartsAsync();

    public async Task InitializeAsync() => _parts = await CreatePartsAsync();

    public async Task DisposeAsync() => await _parts.DisposeAsync();

    private RefreshTokens Tokens => new(_parts.Database, _parts.Options, _parts.Clock);

    [Fact]
    public async Task Rotate_GivesTheNextTokenOnce_ForTheSameUser()
    {
        var (first, _) = await Tokens.IssueAsync("alice", "acc-alice", CancellationToken.None);

        var (user, account, second, expires) = await Tokens.RotateAsync(first, CancellationToken.None);
        var (_, _, third, _) = await Tokens.RotateAsync(second, CancellationToken.None);

        Assert.Equal(("alice", "acc-alice"), (user, account));
        Assert.NotEqual(first, second);
        Assert.NotEqual(second, third);
        Assert.Equal(_parts.Clock.Now + _parts.Options.Value.Auth.RefreshTokenLifetime, expires);
    }

    [Fact]
    public async Task Reuse_OfARotatedToken_RevokesTheWholeFamily_OtherSignInsUnaffected()
    {
        var (stolen, _) = await Tokens.IssueAsync("alice", "acc-alice", CancellationToken.None);
        var (other, _) = await Tokens.IssueAsync("alice", "acc-alice", CancellationToken.None);
        var (_, _, current, _) = await Tokens.RotateAsync(stolen, CancellationToken.None);

        var reuse = await Assert.ThrowsAsync<RpcException>(() => Tokens.RotateAsync(stolen, CancellationToken.None));
        var afterReuse = await Assert.ThrowsAsync<RpcException>(() => Tokens.RotateAsync(current, CancellationToken.None));

        Assert.Equal(StatusCode.Unauthenticated, reuse.StatusCode);
        Assert.Contains("already used", reuse.Status.Detail);
        Assert.Contains("revoked", afterReuse.Status.Detail);
        // Another sign-in (another device) is its own family.
        await Tokens.RotateAsync(other, CancellationToken.None);
    }

    [Fact]
    public async Task Expired_Or_Unknown_Unauthenticated()
    {
        var (token, _) = await Tokens.IssueAsync("alice", "acc-alice", CancellationToken.None);
        _parts.Clock.Now += _parts.Options.Value.Auth.RefreshTokenLifetime + TimeSpan.FromSeconds(1);

        var expired = await Assert.ThrowsAsync<RpcException>(() => Tokens.RotateAsync(token, CancellationToken.None));
        var unknown = await Assert.ThrowsAsync<RpcException>(() => Tokens.RotateAsync("made-up", CancellationToken.None));

        Assert.Equal((StatusCode.Unauthenticated, StatusCode.Unauthenticated), (expired.StatusCode, unknown.StatusCode));
        Assert.Contains("expired", expired.Status.Detail);
        Assert.Contains("unknown", unknown.Status.Detail);
    }

    [Fact]
    public async Task TwoRefreshesWithOneTokenAtOnce_OneWins_TheFamilyIsRevoked()
    {
        var (token, _) = await Tokens.IssueAsync("bob", "acc-bob", CancellationToken.None);

        var results = await Task.WhenAll(Enumerable.Range(0, 2).Select(_ => Task.Run(async () =>
        {
            try
            {
                return (await Tokens.RotateAsync(token, CancellationToken.None)).Token;
            }
            catch (RpcException)
            {
                return null;
            }
        })));

        var winner = Assert.Single(results, r => r is not null);
        await Assert.ThrowsAsync<RpcException>(() => Tokens.RotateAsync(winner!, CancellationToken.None));
    }
}

public sealed class SqliteRefreshTokensTests : RefreshTokensTests
{
    private protected override Task<BackendParts> CreatePartsAsync() => Task.FromResult(new BackendParts());
}

[Collection(PostgresGroup.Name)]
public sealed class PostgresRefreshTokensTests(PostgresServer postgres) : RefreshTokensTests
{
    private protected override async Task<BackendParts> CreatePartsAsync() => await BackendParts.PostgresAsync(await postgres.CreateDatabaseAsync());
}
