using System.Net;
using EdgeBridge.FunctionalTests.Common;
using Grpc.Core;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Trading.V1;

namespace EdgeBridge.FunctionalTests.Security;

/// <summary>An edge that counts how often its JwtBearer scheme looks at a request.</summary>
public sealed class CountingSchemeStackFixture : StackFixture
{
    private int _authentications;

    public CountingSchemeStackFixture() => Edge.ConfigureServices = services =>
        services.PostConfigure<JwtBearerOptions>(EdgeBridgeDefaults.AuthenticationScheme, jwt =>
        {
            var received = jwt.Events.OnMessageReceived;
            jwt.Events.OnMessageReceived = context =>
            {
                Interlocked.Increment(ref _authentications);
                return received(context);
            };
        });

    // One route asks for a user whatever the contract says: the platform's authorization enforces the policy it names.
    protected override IDictionary<string, string?> EdgeSettings => new Dictionary<string, string?>
    {
        ["ReverseProxy:Routes:rest-symbols:AuthorizationPolicy"] = EdgeBridgeDefaults.AuthenticatedPolicy,
    };

    /// <summary>How many times the scheme has authenticated a request (its first event runs once per authentication).</summary>
    public int Authentications => Volatile.Read(ref _authentications);
}

/// <summary>
/// The edge authenticates a request only when it presents a credential (UseEdgeBridgeAuthentication), and then once;
/// an anonymous call that needs a caller is still challenged in its protocol's terms.
/// </summary>
public sealed class AuthenticationTests(CountingSchemeStackFixture stack) : IClassFixture<CountingSchemeStackFixture>
{
    [Fact]
    public async Task AnonymousRead_RunsNoScheme_ATokenIsValidatedOnce()
    {
        var alice = await stack.LoginAsync();
        var before = stack.Authentications;

        var (quote, _) = await stack.SendAsync(HttpMethod.Get, "/v1/quotes/ACME");
        Assert.Equal(HttpStatusCode.OK, quote.StatusCode);
        Assert.Equal(before, stack.Authentications);

        // The authentication middleware's result serves the rate limiter and authorization alike: one validation.
        var (portfolio, _) = await stack.SendAsync(HttpMethod.Get, "/v1/accounts/acc-alice/portfolio", alice);
        Assert.Equal(HttpStatusCode.OK, portfolio.StatusCode);
        Assert.Equal(before + 1, stack.Authentications);
    }

    [Fact]
    public async Task AnonymousCallThatNeedsACaller_ChallengedOnRestAndGrpc_BackendNeverCalled()
    {
        const string method = "/trading.v1.TradingService/GetPortfolio";
        var calls = stack.Backend.Calls.UnaryCount(method);

        var (response, json) = await stack.SendAsync(HttpMethod.Get, "/v1/accounts/acc-alice/portfolio");
        StatusAssert.IsRpcStatus(response, json, HttpStatusCode.Unauthorized, 16);
        Assert.Equal("Bearer", response.Headers.WwwAuthenticate.ToString());

        var client = new TradingService.TradingServiceClient(stack.Grpc);
        var error = await Assert.ThrowsAsync<RpcException>(async () => await client.GetPortfolioAsync(new GetPortfolioRequest { AccountId = "acc-alice" }));
        Assert.Equal(StatusCode.Unauthenticated, error.StatusCode);

        Assert.Equal(calls, stack.Backend.Calls.UnaryCount(method));
    }

    [Fact]
    public async Task RouteNamingTheAuthenticatedPolicy_AnonymousChallenged_ATokenPasses()
    {
        var (anonymous, json) = await stack.SendAsync(HttpMethod.Get, "/v1/symbols");
        StatusAssert.IsRpcStatus(anonymous, json, HttpStatusCode.Unauthorized, 16);

        var (signedIn, _) = await stack.SendAsync(HttpMethod.Get, "/v1/symbols", await stack.LoginAsync());
        Assert.Equal(HttpStatusCode.OK, signedIn.StatusCode);
    }

    [Fact]
    public async Task BasicCredential_IsAHeaderTheSchemeRejects_401InvalidRequest()
    {
        using var request = StackFixture.Request(HttpMethod.Get, "/v1/quotes/ACME");
        request.Headers.TryAddWithoutValidation("Authorization", "Basic YWxpY2U6d29uZGVybGFuZA==");
        using var response = await stack.Rest.SendAsync(request);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Contains("invalid_request", response.Headers.WwwAuthenticate.ToString());
    }
}

/// <summary>An edge whose host made another scheme the default: the caller check validates bearer tokens itself.</summary>
public sealed class OtherDefaultSchemeStackFixture : StackFixture
{
    public OtherDefaultSchemeStackFixture() => Edge.ConfigureServices = services =>
        services.AddAuthentication("Cookies").AddCookie("Cookies");
}

public sealed class OtherDefaultSchemeTests(OtherDefaultSchemeStackFixture stack) : IClassFixture<OtherDefaultSchemeStackFixture>
{
    [Fact]
    public async Task BearerTokensStillHold_ValidOnesPass_BadOnesAre401_AnonymousReadsPass()
    {
        var (portfolio, _) = await stack.SendAsync(HttpMethod.Get, "/v1/accounts/acc-alice/portfolio", await stack.LoginAsync());
        Assert.Equal(HttpStatusCode.OK, portfolio.StatusCode);

        var (forged, json) = await stack.SendAsync(HttpMethod.Get, "/v1/accounts/acc-alice/portfolio", new Session(TokenMinter.Bad("bad-signature"), "acc-alice"));
        StatusAssert.IsRpcStatus(forged, json, HttpStatusCode.Unauthorized, 16);
        Assert.Contains("invalid_token", forged.Headers.WwwAuthenticate.ToString());

        var (quote, _) = await stack.SendAsync(HttpMethod.Get, "/v1/quotes/ACME");
        Assert.Equal(HttpStatusCode.OK, quote.StatusCode);
    }
}
