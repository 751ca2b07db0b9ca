using System.Security.Claims;
using System.Text;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace EdgeBridge.FunctionalTests.Common;

/// <summary>Makes tokens the way an attacker (or a clock) would: expired, forged, unsigned, for someone else.</summary>
public static class TokenMinter
{
    public const string Issuer = "edgebridge-trading";
    public const string Audience = "edgebridge";

    public static string Mint(
        string username = "alice",
        string accountId = "acc-alice",
        TimeSpan? lifetime = null,
        string? key = null,
        string issuer = Issuer,
        string audience = Audience,
        DateTimeOffset? issuedAt = null)
    {
        var now = issuedAt ?? DateTimeOffset.UtcNow;
        var handler = new JsonWebTokenHandler { SetDefaultTimesOnTokenCreation = false };
        return handler.CreateToken(new SecurityTokenDescriptor
        {
            Issuer = issuer,
            Audience = audience,
            Subject = new ClaimsIdentity([new Claim("sub", username), new Claim("account_id", accountId)]),
            IssuedAt = now.UtcDateTime,
            NotBefore = now.UtcDateTime,
            Expires = (now + (lifetime ?? TimeSpan.FromHours(1))).UtcDateTime,
            SigningCredentials = new SigningCredentials(new SymmetricSecurityKey(Convert.FromBase64String(key ?? BackendServer.SigningKey)), SecurityAlgorithms.HmacSha256),
        });
    }

    /// <summary>A token of the named kind, each one that a correct edge must refuse.</summary>
    public static string Bad(string kind) => kind switch
    {
        "expired" => Mint(issuedAt: DateTimeOffset.UtcNow.AddHours(-3), lifetime: TimeSpan.FromHours(1)),
        "bad-signature" => Mint(key: Convert.ToBase64String(Enumerable.Repeat((byte)0x5A, 32).ToArray())),
        "alg-none" => Unsigned(),
        "wrong-audience" => Mint(audience: "another-api"),
        "wrong-issuer" => Mint(issuer: "someone-else"),
        "garbage" => "not.a.token",
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    private static string Unsigned()
    {
        static string Encode(string json) => Convert.ToBase64String(Encoding.UTF8.GetBytes(json)).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        var exp = DateTimeOffset.UtcNow.AddHours(1).ToUnixTimeSeconds();
        return Encode("""{"alg":"none","typ":"JWT"}""") + "." +
            Encode($$"""{"sub":"alice","account_id":"acc-alice","iss":"{{Issuer}}","aud":"{{Audience}}","exp":{{exp}}}""") + ".";
    }
}
