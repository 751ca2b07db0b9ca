using System.Security.Claims;
using System.Security.Cryptography;
using Grpc.Core;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Trading.Backend.Hosting;

namespace Trading.Backend.Identity;

/// <summary>Issues and validates the platform's HS256 access tokens.</summary>
internal sealed class TokenService
{
    public const string AccountClaim = "account_id";
    private const string BearerPrefix = "Bearer ";

    private readonly AuthOptions _options;
    private readonly TimeProvider _time;
    private readonly SymmetricSecurityKey _key;
    private readonly JsonWebTokenHandler _handler = new() { SetDefaultTimesOnTokenCreation = false };
    private readonly TokenValidationParameters _validation;

    public TokenService(IOptions<BackendOptions> options, SigningKeySource keySource, TimeProvider time)
    {
        _options = options.Value.Auth;
        _time = time;
        _key = new SymmetricSecurityKey(keySource.GetKey()) { KeyId = "trading-hs256" };
        _validation = new TokenValidationParameters
        {
            ValidIssuer = _options.Issuer,
            ValidAudience = _options.Audience,
            IssuerSigningKey = _key,
            ValidAlgorithms = [SecurityAlgorithms.HmacSha256],
            RequireExpirationTime = true,
            RequireSignedTokens = true,
            ClockSkew = TimeSpan.FromSeconds(30),
            LifetimeValidator = ValidateLifetime,
        };
    }

    public (string Token, DateTimeOffset ExpiresAt) Issue(string username, string accountId)
    {
        var now = _time.GetUtcNow();
        var expires = now + _options.TokenLifetime;
        var token = _handler.CreateToken(new SecurityTokenDescriptor
        {
            Issuer = _options.Issuer,
            Audience = _options.Audience,
            Subject = new ClaimsIdentity([new Claim("sub", username), new Claim(AccountClaim, accountId)]),
            IssuedAt = now.UtcDateTime,
            NotBefore = now.UtcDateTime,
            Expires = expires.UtcDateTime,
            SigningCredentials = new SigningCredentials(_key, SecurityAlgorithms.HmacSha256),
        });
        return (token, expires);
    }

    /// <summary>Returns the caller of <paramref name="context"/>, or throws UNAUTHENTICATED.</summary>
    public async Task<Caller> AuthenticateAsync(ServerCallContext context)
    {
        var header = context.RequestHeaders.GetValue("authorization");
        if (string.IsNullOrEmpty(header))
        {
            throw new RpcException(new Status(StatusCode.Unauthenticated, "This call needs a bearer token in the authorization header."));
        }

        if (!header.StartsWith(BearerPrefix, StringComparison.OrdinalIgnoreCase))
        {
            throw new RpcException(new Status(StatusCode.Unauthenticated, "The authorization header must use the Bearer scheme."));
        }

        var result = await _handler.ValidateTokenAsync(header[BearerPrefix.Length..].Trim(), _validation);
        if (!result.IsValid)
        {
            var reason = result.Exception switch
            {
                SecurityTokenExpiredException => "the token has expired",
                SecurityTokenInvalidSignatureException or SecurityTokenSignatureKeyNotFoundException => "the token's signature is invalid",
                SecurityTokenInvalidAudienceException => "the token is for another audience",
                SecurityTokenInvalidIssuerException => "the token is from another issuer",
                SecurityTokenInvalidAlgorithmException => "the token's algorithm is not accepted",
                _ => "the token is malformed or invalid",
            };
            throw new RpcException(new Status(StatusCode.Unauthenticated, $"The bearer token was rejected: {reason}."));
        }

        if (result.Claims.TryGetValue("sub", out var sub) && sub is string username
            && result.Claims.TryGetValue(AccountClaim, out var account) && account is string accountId)
        {
            return new Caller(username, accountId);
        }

        throw new RpcException(new Status(StatusCode.Unauthenticated, "The bearer token was rejected: it names no user or account."));
    }

    /// <summary>Throws PERMISSION_DENIED unless <paramref name="caller"/> owns <paramref name="accountId"/>.</summary>
    public static void RequireAccount(Caller caller, string accountId)
    {
        if (!string.Equals(caller.AccountId, accountId, StringComparison.Ordinal))
        {
            throw new RpcException(new Status(StatusCode.PermissionDenied, $"The token does not grant access to account '{accountId}'."));
        }
    }

    // Uses the injected clock rather than the wall clock, so expiry follows the same time as issuing.
    private bool ValidateLifetime(DateTime? notBefore, DateTime? expires, SecurityToken token, TokenValidationParameters parameters)
    {
        var now = _time.GetUtcNow().UtcDateTime;
        if (expires is null || now > expires.Value + parameters.ClockSkew)
        {
            throw new SecurityTokenExpiredException("expired");
        }

        if (notBefore is not null && now + parameters.ClockSkew < notBefore.Value)
        {
            throw new SecurityTokenNotYetValidException("not yet valid");
        }

        return true;
    }
}

/// <summary>
/// Where the signing key comes from: configuration, a key file, or, in Development and Demo only, a key
/// generated once and kept beside the database.
/// </summary>
internal sealed class SigningKeySource(IOptions<BackendOptions> options, IHostEnvironment environment, Storage.Database database)
{
    private const int MinimumKeyBytes = 32;

    public byte[] GetKey()
    {
        var auth = options.Value.Auth;
        if (!string.IsNullOrWhiteSpace(auth.SigningKey))
        {
            return Validate(Convert.FromBase64String(auth.SigningKey), "Backend:Auth:SigningKey");
        }

        var file = auth.SigningKeyFile;
        if (string.IsNullOrWhiteSpace(file))
        {
            if (!environment.IsDevelopment() && !environment.IsEnvironment("Demo"))
            {
                throw new InvalidOperationException(
                    "Backend:Auth:SigningKey (base64, at least 32 bytes) or Backend:Auth:SigningKeyFile must be configured outside Development and Demo.");
            }

            file = Path.Combine(database.KeyDirectory, "signing.key");
        }

        if (!Path.IsPathRooted(file))
        {
            file = Path.Combine(environment.ContentRootPath, file);
        }

        if (!File.Exists(file) && (environment.IsDevelopment() || environment.IsEnvironment("Demo")))
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(file))!);
            File.WriteAllText(file, Convert.ToBase64String(RandomNumberGenerator.GetBytes(MinimumKeyBytes)));
        }

        return Validate(Convert.FromBase64String(File.ReadAllText(file).Trim()), file);
    }

    private static byte[] Validate(byte[] key, string source) => key.Length >= MinimumKeyBytes
        ? key
        : throw new InvalidOperationException($"The signing key from {source} has {key.Length} bytes; at least {MinimumKeyBytes} are required.");
}
