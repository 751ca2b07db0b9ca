using System.Security.Cryptography;
using Grpc.Core;
using Microsoft.Extensions.Options;
using Trading.Backend.Hosting;
using Trading.Backend.Storage;

namespace Trading.Backend.Identity;

/// <summary>
/// Refresh tokens with rotation: each sign-in starts a family; each refresh marks its token used and issues the
/// family's next one. A used token presented again means it was copied — the whole family is revoked, so neither
/// the thief nor the user can go on without signing in (OAuth 2.0 Security BCP, refresh token rotation).
/// </summary>
/// <remarks>
/// Only a SHA-256 of each token is stored: a leaked table grants nothing. Rows are deleted once expired, at the
/// user's next sign-in, so a family holds at most one row per refresh within the token lifetime.
/// </remarks>
internal sealed class RefreshTokens(Database database, IOptions<BackendOptions> options, TimeProvider time)
{
    private const int TokenBytes = 32;

    /// <summary>Starts a new family for a sign-in and returns its first token.</summary>
    public Task<(string Token, DateTimeOffset ExpiresAt)> IssueAsync(string username, string accountId, CancellationToken cancellationToken) =>
        database.WriteAsync((connection, transaction) =>
        {
            var now = time.GetUtcNow();
            Database.Execute(connection, transaction, "DELETE FROM refresh_tokens WHERE username = @user AND expires_ms < @now",
                ("@user", username), ("@now", now.ToUnixTimeMilliseconds()));
            return Insert(connection, transaction, Guid.NewGuid().ToString("N"), username, accountId, now);
        }, cancellationToken);

    /// <summary>Exchanges <paramref name="token"/> for the family's next one; UNAUTHENTICATED for anything else.</summary>
    public async Task<(string Username, string AccountId, string Token, DateTimeOffset ExpiresAt)> RotateAsync(string token, CancellationToken cancellationToken)
    {
        var hash = Hash(token);
        var outcome = await database.WriteAsync((connection, transaction) =>
        {
            var now = time.GetUtcNow();
            using var find = Database.Command(connection, transaction,
                "SELECT family_id, username, account_id, expires_ms, used_ms, revoked FROM refresh_tokens WHERE token_hash = @hash",
                ("@hash", hash));
            using var reader = find.ExecuteReader();
            if (!reader.Read())
            {
                return Outcome.Failed("The refresh token is unknown.");
            }

            var (family, username, accountId) = (reader.GetString(0), reader.GetString(1), reader.GetString(2));
            var (expires, used, revoked) = (reader.GetInt64(3), !reader.IsDBNull(4), reader.GetInt32(5) != 0);
            reader.Close();
            if (revoked)
            {
                return Outcome.Failed("The refresh token was revoked; sign in again.");
            }

            if (expires < now.ToUnixTimeMilliseconds())
            {
                return Outcome.Failed("The refresh token has expired; sign in again.");
            }

            // Marked used only if nobody else did first: two refreshes with one token are a reuse as well.
            var claimed = !used && Database.Execute(connection, transaction,
                "UPDATE refresh_tokens SET used_ms = @now WHERE token_hash = @hash AND used_ms IS NULL",
                ("@now", now.ToUnixTimeMilliseconds()), ("@hash", hash)) == 1;
            if (!claimed)
            {
                Database.Execute(connection, transaction, "UPDATE refresh_tokens SET revoked = 1 WHERE family_id = @family", ("@family", family));
                return Outcome.Failed("The refresh token was already used; every token of this sign-in is revoked. Sign in again.");
            }

            var (next, nextExpires) = Insert(connection, transaction, family, username, accountId, now);
            return new Outcome(null, username, accountId, next, nextExpires);
        }, cancellationToken);

        // The revocation commits before the caller hears the refusal.
        return outcome.Failure is { } failure
            ? throw new RpcException(new Status(StatusCode.Unauthenticated, failure))
            : (outcome.Username!, outcome.AccountId!, outcome.Token!, outcome.ExpiresAt);
    }

    private (string Token, DateTimeOffset ExpiresAt) Insert(System.Data.Common.DbConnection connection, System.Data.Common.DbTransaction transaction,
        string family, string username, string accountId, DateTimeOffset now)
    {
        var token = Base64Url(RandomNumberGenerator.GetBytes(TokenBytes));
        var expires = DateTimeOffset.FromUnixTimeMilliseconds((now + options.Value.Auth.RefreshTokenLifetime).ToUnixTimeMilliseconds());
        Database.Execute(connection, transaction,
            "INSERT INTO refresh_tokens (token_hash, family_id, username, account_id, expires_ms) VALUES (@hash, @family, @user, @account, @expires)",
            ("@hash", Hash(token)), ("@family", family), ("@user", username), ("@account", accountId), ("@expires", expires.ToUnixTimeMilliseconds()));
        return (token, expires);
    }

    private static string Hash(string token) => Base64Url(SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(token)));

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private sealed record Outcome(string? Failure, string? Username, string? AccountId, string? Token, DateTimeOffset ExpiresAt)
    {
        public static Outcome Failed(string failure) => new(failure, null, null, null, default);
    }
}
