using System.Net;
using EdgeBridge.Streams;
using Microsoft.AspNetCore.Http;

namespace EdgeBridge.Security;

/// <summary>
/// The caller of a request the edge answers itself (HTTP streams, Connect, gRPC-Web): its connection's address and
/// the subject of its bearer token, checked as every path checks tokens (<see cref="EdgeTokens"/>).
/// </summary>
internal static class BearerCallers
{
    /// <summary>
    /// The caller of <paramref name="authorization"/> (an <c>Authorization</c> header's value, empty when none came);
    /// a refusal, in words a client can act on, when the token does not hold or <paramref name="requiresToken"/> and
    /// none came.
    /// </summary>
    public static async ValueTask<(Caller Caller, DateTimeOffset? Expires, string? Refusal)> AuthenticateAsync(
        HttpContext context, string authorization, string methodName, bool requiresToken, EdgeTokens tokens)
    {
        var address = context.Connection.RemoteIpAddress ?? IPAddress.None;
        if (authorization.Length == 0)
        {
            return requiresToken
                ? (default, null, $"'{methodName}' needs an access token: send it as 'Authorization: Bearer <token>'.")
                : (new Caller(address, null, null), null, null);
        }

        if (!authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            return (default, null, "The authorization header must be 'Bearer <token>'.");
        }

        var token = authorization["Bearer ".Length..].Trim();
        var check = await tokens.ValidateAsync(token);
        if (!check.Valid)
        {
            return (default, null, $"The token was rejected: {check.Problem}.");
        }

        return (new Caller(address, check.Subject, token), check.Expires, null);
    }
}
