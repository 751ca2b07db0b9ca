using EdgeBridge.Contracts;
using EdgeBridge.Responses;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace EdgeBridge.Security;

/// <summary>The edge's authorization policy (<see cref="EdgeBridgeDefaults.AuthenticatedPolicy"/>).</summary>
internal sealed class AuthorizationSetup(IOptions<AuthenticationOptions> authentication)
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
