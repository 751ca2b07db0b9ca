using System.Security.Claims;
using EdgeBridge.Contracts;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Http;

namespace EdgeBridge.Security;

/// <summary>
/// The check every proxied request meets before it is forwarded: a bearer token that is presented must be valid (a
/// forged, expired or foreign token never reaches the backend), and a call to a method the contract marks
/// <c>AUTH_REQUIRED</c> needs one. Failing it is the scheme's challenge: 401 in the request's protocol.
/// </summary>
/// <remarks>
/// A step of the proxy pipeline rather than an authorization policy on every route: the platform's authorization of a
/// request (its service scope, policy evaluator, handler context, requirement set and five tasks) was 1.5 KB and about
/// 7 % of the edge's CPU per proxied REST request, side by side with and without it (docs/benchmarks.md). The
/// decision is the same one; a route that wants more names a policy (YARP's <c>AuthorizationPolicy</c>, such as
/// <see cref="EdgeBridgeDefaults.AuthenticatedPolicy"/>), which the platform's authorization enforces as before.
/// </remarks>
internal sealed class CallerChecks(RequestDelegate next, ContractSource contracts, bool tokensEnabled)
{
    public Task InvokeAsync(HttpContext context)
    {
        if (!tokensEnabled || Callers.Subject(context) is not null)
        {
            return next(context);
        }

        if (context.Request.Headers.Authorization.Count > 0)
        {
            return AuthenticateAsync(context);
        }

        // Anonymous, and the contract does not ask for a caller: the backend decides what is public.
        return ContractCalls.Find(context, contracts.Current) is { RequiresCaller: true }
            ? context.ChallengeAsync(EdgeBridgeDefaults.AuthenticationScheme)
            : next(context);
    }

    private async Task AuthenticateAsync(HttpContext context)
    {
        // Under the edge's default scheme this is the result authentication already has (the handler keeps it for
        // the request); under another default scheme, the token is validated here for the first time.
        var result = await context.AuthenticateAsync(EdgeBridgeDefaults.AuthenticationScheme);
        if (!result.Succeeded)
        {
            await context.ChallengeAsync(EdgeBridgeDefaults.AuthenticationScheme);
            return;
        }

        var user = new ClaimsPrincipal(result.Principal.Identities);
        user.AddIdentities(context.User.Identities.Where(static identity => identity.IsAuthenticated));
        context.User = user;
        await next(context);
    }
}
