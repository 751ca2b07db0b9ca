using EdgeBridge.Contracts;
using EdgeBridge.Responses;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace EdgeBridge.Security;

/// <summary>
/// The requirement of <see cref="EdgeBridgeDefaults.CallerPolicy"/>, which every proxied route carries: a bearer
/// token that is presented must be valid (a forged, expired or foreign token never reaches the backend), and a call
/// to a method the contract marks <c>AUTH_REQUIRED</c> needs one. Failing it answers 401 in the request's protocol
/// (the scheme's challenge).
/// </summary>
/// <remarks>
/// The requirement is its own handler (ASP.NET Core's pass-through handler runs it): a separate
/// <c>AuthorizationHandler&lt;T&gt;</c> would be one more handler that every authorization of every request walks.
/// </remarks>
internal sealed class CallerRequirement(IServiceProvider services, bool enabled) : IAuthorizationRequirement, IAuthorizationHandler
{
    private ContractSource? _contracts;

    public Task HandleAsync(AuthorizationHandlerContext context)
    {
        if (!enabled || context.Resource is not HttpContext http)
        {
            context.Succeed(this);
            return Task.CompletedTask;
        }

        if (Callers.Subject(http) is not null)
        {
            context.Succeed(this);
        }
        else if (http.Request.Headers.Authorization.Count == 0 && ContractCalls.Find(http, Contracts.Current) is not { RequiresCaller: true })
        {
            // Anonymous, and the contract does not ask for a caller: the backend decides what is public.
            context.Succeed(this);
        }

        return Task.CompletedTask;
    }

    // Resolved at the first request, not when the policies are built: the contracts load when the edge is mapped.
    private ContractSource Contracts => _contracts ??= services.GetRequiredService<ContractSource>();
}

/// <summary>The edge's authorization policies (<see cref="EdgeBridgeDefaults.CallerPolicy"/>, <see cref="EdgeBridgeDefaults.AuthenticatedPolicy"/>).</summary>
internal sealed class AuthorizationSetup(IOptions<AuthenticationOptions> authentication, IOptions<EdgeBridgeOptions> edge, IServiceProvider services)
    : IConfigureOptions<AuthorizationOptions>
{
    public void Configure(AuthorizationOptions authorization)
    {
        // When the edge's scheme is the default one, UseAuthentication has already authenticated the request with it:
        // naming it on the policies would authenticate every request a second time (about 1 µs of the edge's CPU per
        // request, docs/benchmarks.md). Under another default, the policies ask for it themselves.
        var options = authentication.Value;
        var isDefault = (options.DefaultAuthenticateScheme ?? options.DefaultScheme) == EdgeBridgeDefaults.AuthenticationScheme;
        void Add(string name, Action<AuthorizationPolicyBuilder> require) => authorization.AddPolicy(name, policy =>
        {
            if (!isDefault)
            {
                policy.AddAuthenticationSchemes(EdgeBridgeDefaults.AuthenticationScheme);
            }

            require(policy);
        });

        var caller = new CallerRequirement(services, edge.Value.Tokens.Enabled);
        Add(EdgeBridgeDefaults.CallerPolicy, policy => policy.AddRequirements(caller));
        Add(EdgeBridgeDefaults.AuthenticatedPolicy, static policy => policy.RequireAuthenticatedUser());
    }
}

/// <summary>The contract method a proxied request calls, found once per request and kept on it.</summary>
internal static class ContractCalls
{
    private sealed class Found(ContractMethod? method, HttpRuleTemplate? template)
    {
        public ContractMethod? Method { get; } = method;

        public HttpRuleTemplate? Template { get; } = template;
    }

    /// <summary>The method <paramref name="context"/> calls: by gRPC path for gRPC calls, by HTTP rule for REST.</summary>
    public static ContractMethod? Find(HttpContext context, ContractCatalog catalog) => Resolve(context, catalog).Method;

    /// <summary>The REST binding the request matched, when it is a REST call of a contract method.</summary>
    public static HttpRuleTemplate? Binding(HttpContext context, ContractCatalog catalog) => Resolve(context, catalog).Template;

    private static readonly Found s_none = new(null, null);

    private static Found Resolve(HttpContext context, ContractCatalog catalog)
    {
        if (context.Features.Get<Found>() is { } found)
        {
            return found;
        }

        var path = context.Request.Path.Value ?? "";
        if (RpcStatusWriter.IsGrpc(context))
        {
            found = catalog.FindGrpc(path) is { } method ? new Found(method, null) : s_none;
        }
        else
        {
            found = catalog.FindRest(context.Request.Method, path) is { } rest ? new Found(rest.Method, rest.Template) : s_none;
        }

        context.Features.Set(found);
        return found;
    }
}
