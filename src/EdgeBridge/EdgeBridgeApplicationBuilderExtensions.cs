using Microsoft.AspNetCore.Http;

namespace Microsoft.AspNetCore.Builder;

/// <summary>Adds EdgeBridge's parts of the request pipeline.</summary>
public static class EdgeBridgeApplicationBuilderExtensions
{
    // The key UseAuthentication sets; WebApplication adds the middleware a second time, at the start of the
    // pipeline, when it does not find it (and it does not look into branches: dotnet/aspnetcore#48098).
    private const string AuthenticationMiddlewareSetKey = "__AuthenticationMiddlewareSet";

    /// <summary>
    /// The platform's authentication middleware (<c>UseAuthentication</c>) for the requests that present a credential
    /// in an <c>Authorization</c> header: use it in its place when the edge's bearer tokens are the application's only
    /// credentials. A request without the header is anonymous without running a scheme; a call that needs a caller
    /// still gets the scheme's challenge from authorization.
    /// </summary>
    /// <remarks>
    /// Authenticating an anonymous request has nothing to validate, yet the platform's middleware creates the request's
    /// service scope, the scheme's handler and five tasks for it: 1.4 KB and about 7 % of the edge's CPU per proxied
    /// REST request (docs/benchmarks.md). Leaving out the header only makes a client anonymous, which it could be
    /// anyway: no caller is established from what the client chooses.
    /// </remarks>
    public static IApplicationBuilder UseEdgeBridgeAuthentication(this IApplicationBuilder app)
    {
        ArgumentNullException.ThrowIfNull(app);

        app.UseWhen(static context => context.Request.Headers.Authorization.Count > 0, static branch => branch.UseAuthentication());
        app.Properties[AuthenticationMiddlewareSetKey] = true;
        return app;
    }
}
