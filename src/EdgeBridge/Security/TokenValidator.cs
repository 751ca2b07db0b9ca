using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace EdgeBridge.Security;

/// <summary>The outcome of validating a bearer token.</summary>
internal readonly record struct TokenCheck(bool Valid, string? Subject, DateTimeOffset Expires, string? Problem)
{
    public static TokenCheck Rejected(string problem) => new(false, null, default, problem);
}

/// <summary>
/// Validates bearer tokens at the edge: signature (HS256 only, so <c>alg: none</c> and algorithm confusion are
/// rejected), expiry, issuer and audience.
/// </summary>
internal sealed class TokenValidator
{
    private const int MinimumKeyBytes = 32;
    private readonly JsonWebTokenHandler _handler = new();
    private readonly TokenValidationParameters? _parameters;
    private readonly TimeProvider _time;

    public TokenValidator(IOptions<EdgeBridgeOptions> options, IHostEnvironment environment, TimeProvider time)
    {
        _time = time;
        var tokens = options.Value.Tokens;
        Enabled = tokens.Enabled;
        if (!Enabled)
        {
            return;
        }

        if (string.IsNullOrWhiteSpace(tokens.Issuer) || string.IsNullOrWhiteSpace(tokens.Audience))
        {
            throw new InvalidOperationException("EdgeBridge:Tokens:Issuer and EdgeBridge:Tokens:Audience must be configured (or EdgeBridge:Tokens:Enabled set to false).");
        }

        _parameters = new TokenValidationParameters
        {
            ValidIssuer = tokens.Issuer,
            ValidAudience = tokens.Audience,
            IssuerSigningKey = new SymmetricSecurityKey(LoadKey(tokens, environment)),
            ValidAlgorithms = [SecurityAlgorithms.HmacSha256],
            RequireSignedTokens = true,
            RequireExpirationTime = true,
            ClockSkew = tokens.ClockSkew,
            LifetimeValidator = (notBefore, expires, _, parameters) =>
            {
                var now = _time.GetUtcNow().UtcDateTime;
                return expires is not null && now <= expires.Value + parameters.ClockSkew
                    && (notBefore is null || now + parameters.ClockSkew >= notBefore.Value);
            },
        };
    }

    public bool Enabled { get; }

    /// <summary>Validates a raw token (no scheme).</summary>
    public async ValueTask<TokenCheck> ValidateAsync(string token)
    {
        if (_parameters is null)
        {
            return new TokenCheck(true, null, DateTimeOffset.MaxValue, null);
        }

        TokenValidationResult result;
        try
        {
            result = await _handler.ValidateTokenAsync(token, _parameters);
        }
        catch (ArgumentException)
        {
            return TokenCheck.Rejected("the token is malformed");
        }

        if (!result.IsValid)
        {
            return TokenCheck.Rejected(result.Exception switch
            {
                SecurityTokenInvalidLifetimeException or SecurityTokenExpiredException => "the token has expired",
                SecurityTokenInvalidSignatureException or SecurityTokenSignatureKeyNotFoundException => "the token's signature is invalid",
                SecurityTokenInvalidAudienceException => "the token is for another audience",
                SecurityTokenInvalidIssuerException => "the token is from another issuer",
                SecurityTokenInvalidAlgorithmException => "the token's algorithm is not accepted",
                _ => "the token is malformed or invalid",
            });
        }

        var subject = result.Claims.TryGetValue("sub", out var sub) ? sub as string : null;
        if (string.IsNullOrEmpty(subject))
        {
            return TokenCheck.Rejected("the token names no subject");
        }

        return new TokenCheck(true, subject, new DateTimeOffset(result.SecurityToken.ValidTo, TimeSpan.Zero), null);
    }

    /// <summary>Validates an <c>Authorization</c> header value, which must use the Bearer scheme.</summary>
    public ValueTask<TokenCheck> ValidateHeaderAsync(string header)
    {
        const string prefix = "Bearer ";
        return header.StartsWith(prefix, StringComparison.OrdinalIgnoreCase) && header.Length > prefix.Length
            ? ValidateAsync(header[prefix.Length..].Trim())
            : ValueTask.FromResult(TokenCheck.Rejected("the authorization header must be 'Bearer <token>'"));
    }

    private static byte[] LoadKey(TokenOptions tokens, IHostEnvironment environment)
    {
        string encoded;
        string source;
        if (!string.IsNullOrWhiteSpace(tokens.SigningKey))
        {
            (encoded, source) = (tokens.SigningKey, "EdgeBridge:Tokens:SigningKey");
        }
        else if (!string.IsNullOrWhiteSpace(tokens.SigningKeyFile))
        {
            var path = Path.IsPathRooted(tokens.SigningKeyFile) ? tokens.SigningKeyFile : Path.Combine(environment.ContentRootPath, tokens.SigningKeyFile);
            if (!File.Exists(path))
            {
                throw new InvalidOperationException($"EdgeBridge:Tokens:SigningKeyFile '{path}' does not exist.");
            }

            (encoded, source) = (File.ReadAllText(path).Trim(), path);
        }
        else
        {
            throw new InvalidOperationException("EdgeBridge:Tokens:SigningKey or EdgeBridge:Tokens:SigningKeyFile must be configured (or EdgeBridge:Tokens:Enabled set to false).");
        }

        var key = Convert.FromBase64String(encoded);
        return key.Length >= MinimumKeyBytes
            ? key
            : throw new InvalidOperationException($"The signing key from {source} has {key.Length} bytes; at least {MinimumKeyBytes} are required.");
    }
}
