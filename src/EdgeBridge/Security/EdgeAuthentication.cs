using EdgeBridge.Responses;
using Grpc.Core;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using System.Security.Claims;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features.Authentication;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Tokens;

namespace EdgeBridge.Security;

/// <summary>
/// Configures the <see cref="EdgeBridgeDefaults.AuthenticationScheme"/> JwtBearer scheme from
/// <see cref="EdgeBridgeOptions.Tokens"/>: one set of token validation parameters for REST, gRPC and the WebSocket's
/// <c>init</c> and <c>auth</c> tokens (<see cref="EdgeTokens"/>). HS256 only, so <c>alg: none</c> and algorithm
/// confusion fail; expiry checked on the host's <see cref="TimeProvider"/>, so tests can drive it.
/// </summary>
internal sealed class JwtBearerSetup(IOptions<EdgeBridgeOptions> options, IHostEnvironment environment, TimeProvider time)
    : IConfigureNamedOptions<JwtBearerOptions>
{
    public void Configure(string? name, JwtBearerOptions jwt)
    {
        if (name != EdgeBridgeDefaults.AuthenticationScheme)
        {
            return;
        }

        var tokens = options.Value.Tokens;
        jwt.TimeProvider = time;

        // Claims keep their JWT names: the subject is "sub", as the backend reads it.
        jwt.MapInboundClaims = false;
        jwt.Events = new JwtBearerEvents { OnChallenge = ChallengeAsync, OnForbidden = ForbiddenAsync };
        if (!tokens.Enabled)
        {
            // Tokens pass to the backend unchecked, and the edge knows no user.
            jwt.Events.OnMessageReceived = static context =>
            {
                context.NoResult();
                return Task.CompletedTask;
            };
            return;
        }

        jwt.TokenValidationParameters = new TokenValidationParameters
        {
            ValidIssuer = tokens.Issuer,
            ValidAudience = tokens.Audience,
            IssuerSigningKey = new SymmetricSecurityKey(SigningKeys.Load(tokens, environment)),
            ValidAlgorithms = [SecurityAlgorithms.HmacSha256],
            RequireSignedTokens = true,
            RequireExpirationTime = true,
            ClockSkew = tokens.ClockSkew,
            NameClaimType = "sub",
            AuthenticationType = EdgeBridgeDefaults.AuthenticationScheme,
            LifetimeValidator = (notBefore, expires, _, parameters) =>
            {
                var now = time.GetUtcNow().UtcDateTime;
                return expires is not null && now <= expires.Value + parameters.ClockSkew
                    && (notBefore is null || now + parameters.ClockSkew >= notBefore.Value);
            },
        };
    }

    public void Configure(JwtBearerOptions options) => Configure(Options.DefaultName, options);

    /// <summary>401 in the request's protocol, saying what was wrong with the token (never the token itself).</summary>
    private static Task ChallengeAsync(JwtBearerChallengeContext context)
    {
        context.HandleResponse();
        var http = context.HttpContext;
        string message;
        if (context.AuthenticateFailure is { } failure)
        {
            var problem = TokenProblems.Describe(failure);
            http.Response.Headers.WWWAuthenticate = $"Bearer error=\"invalid_token\", error_description=\"{problem}\"";
            message = $"The bearer token was rejected by the edge: {problem}.";
        }
        else if (http.Request.Headers.Authorization.Count > 0)
        {
            http.Response.Headers.WWWAuthenticate = "Bearer error=\"invalid_request\", error_description=\"the authorization header must be 'Bearer <token>'\"";
            message = "The bearer token was rejected by the edge: the authorization header must be 'Bearer <token>'.";
        }
        else
        {
            http.Response.Headers.WWWAuthenticate = "Bearer";
            message = "This call needs a bearer token: log in and send 'authorization: Bearer <token>'.";
        }

        return RpcStatusWriter.WriteAsync(http, StatusCode.Unauthenticated, message);
    }

    private static Task ForbiddenAsync(ForbiddenContext context) =>
        RpcStatusWriter.WriteAsync(context.HttpContext, StatusCode.PermissionDenied, "The caller may not use this route.");
}

/// <summary>What was wrong with a token, in words a client can act on.</summary>
internal static class TokenProblems
{
    public static string Describe(Exception failure) => failure switch
    {
        SecurityTokenInvalidLifetimeException or SecurityTokenExpiredException or SecurityTokenNoExpirationException => "the token has expired",
        SecurityTokenInvalidSignatureException or SecurityTokenSignatureKeyNotFoundException => "the token's signature is invalid",
        SecurityTokenInvalidAudienceException => "the token is for another audience",
        SecurityTokenInvalidIssuerException => "the token is from another issuer",
        SecurityTokenInvalidAlgorithmException => "the token's algorithm is not accepted",
        SecurityTokenNotYetValidException => "the token is not valid yet",
        _ => "the token is malformed or invalid",
    };
}

/// <summary>The outcome of validating a bearer token.</summary>
internal readonly record struct TokenCheck(bool Valid, string? Subject, DateTimeOffset Expires, string? Problem)
{
    public static TokenCheck Rejected(string problem) => new(false, null, default, problem);
}

/// <summary>
/// Validates tokens that arrive outside an <c>Authorization</c> header (the WebSocket's <c>init</c> and <c>auth</c>
/// frames) with the JwtBearer scheme's own handler and parameters, so every path accepts exactly the same tokens.
/// </summary>
internal sealed class EdgeTokens(IOptionsMonitor<JwtBearerOptions> jwt, IOptions<EdgeBridgeOptions> options)
{
    public bool Enabled { get; } = options.Value.Tokens.Enabled;

    public async ValueTask<TokenCheck> ValidateAsync(string token)
    {
        if (!Enabled)
        {
            return new TokenCheck(true, null, DateTimeOffset.MaxValue, null);
        }

        var scheme = jwt.Get(EdgeBridgeDefaults.AuthenticationScheme);
        TokenValidationResult result;
        try
        {
            result = await scheme.TokenHandlers[0].ValidateTokenAsync(token, scheme.TokenValidationParameters);
        }
        catch (ArgumentException)
        {
            return TokenCheck.Rejected("the token is malformed");
        }

        if (!result.IsValid)
        {
            return TokenCheck.Rejected(TokenProblems.Describe(result.Exception));
        }

        var subject = result.Claims.TryGetValue("sub", out var sub) ? sub as string : null;
        if (string.IsNullOrEmpty(subject))
        {
            return TokenCheck.Rejected("the token names no subject");
        }

        return new TokenCheck(true, subject, new DateTimeOffset(result.SecurityToken.ValidTo, TimeSpan.Zero), null);
    }
}

/// <summary>The caller as the edge's authentication established it.</summary>
internal static class Callers
{
    /// <summary>The subject of the token EdgeBridge validated for <paramref name="context"/>, or null when there is none.</summary>
    public static string? Subject(HttpContext context)
    {
        // Read through the feature: HttpContext.User would create an empty principal for every anonymous request.
        if (context.Features.Get<IHttpAuthenticationFeature>()?.User is not { } user)
        {
            return null;
        }

        if (user.Identity is ClaimsIdentity { IsAuthenticated: true, AuthenticationType: EdgeBridgeDefaults.AuthenticationScheme } primary)
        {
            return primary.Name;
        }

        foreach (var identity in user.Identities)
        {
            if (identity.IsAuthenticated && identity.AuthenticationType == EdgeBridgeDefaults.AuthenticationScheme)
            {
                return identity.Name;
            }
        }

        return null;
    }
}
