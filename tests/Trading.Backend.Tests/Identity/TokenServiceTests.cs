using System.Text;
using Grpc.Core;
using Microsoft.Extensions.Options;
using Trading.Backend.Hosting;
using Trading.Backend.Identity;
using Trading.Backend.Tests.Common;

namespace Trading.Backend.Tests.Identity;

public sealed class TokenServiceTests : IDisposable
{
    private readonly BackendParts _parts = new();

    public void Dispose() => _parts.Dispose();

    private TokenService Tokens(string? key = null, string audience = "edgebridge")
    {
        var options = Options.Create(new BackendOptions
        {
            Database = _parts.Options.Value.Database,
            Auth = new AuthOptions { SigningKey = key ?? _parts.Options.Value.Auth.SigningKey, Audience = audience },
        });
        return new TokenService(options, new SigningKeySource(options, _parts.Environment, _parts.Database), _parts.Clock);
    }

    private static TestCallContext Call(string? authorization) => new(authorization);

    [Fact]
    public async Task Authenticate_FreshToken_ReturnsCaller()
    {
        var tokens = Tokens();
        var (token, _) = tokens.Issue("alice", "acc-alice");

        var caller = await tokens.AuthenticateAsync(Call("Bearer " + token));

        Assert.Equal(new Caller("alice", "acc-alice"), caller);
    }

    [Fact]
    public async Task Authenticate_ExpiredToken_Unauthenticated()
    {
        var tokens = Tokens();
        var (token, _) = tokens.Issue("alice", "acc-alice");
        _parts.Clock.Now += TimeSpan.FromHours(2);

        var error = await Assert.ThrowsAsync<RpcException>(() => tokens.AuthenticateAsync(Call("Bearer " + token)));

        Assert.Equal(StatusCode.Unauthenticated, error.StatusCode);
        Assert.Contains("expired", error.Status.Detail);
    }

    [Fact]
    public async Task Authenticate_TokenSignedWithAnotherKey_Unauthenticated()
    {
        var (token, _) = Tokens(Convert.ToBase64String(Enumerable.Repeat((byte)7, 32).ToArray())).Issue("alice", "acc-alice");

        var error = await Assert.ThrowsAsync<RpcException>(() => Tokens().AuthenticateAsync(Call("Bearer " + token)));

        Assert.Equal(StatusCode.Unauthenticated, error.StatusCode);
    }

    [Fact]
    public async Task Authenticate_WrongAudience_Unauthenticated()
    {
        var (token, _) = Tokens(audience: "someone-else").Issue("alice", "acc-alice");

        var error = await Assert.ThrowsAsync<RpcException>(() => Tokens().AuthenticateAsync(Call("Bearer " + token)));

        Assert.Equal(StatusCode.Unauthenticated, error.StatusCode);
    }

    [Fact]
    public async Task Authenticate_AlgNone_Unauthenticated()
    {
        static string Encode(string json) => Convert.ToBase64String(Encoding.UTF8.GetBytes(json)).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        var exp = DateTimeOffset.UtcNow.AddHours(1).ToUnixTimeSeconds();
        var unsigned = Encode("""{"alg":"none","typ":"JWT"}""") + "." +
            Encode($$"""{"sub":"alice","account_id":"acc-bob","iss":"edgebridge-trading","aud":"edgebridge","exp":{{exp}}}""") + ".";

        var error = await Assert.ThrowsAsync<RpcException>(() => Tokens().AuthenticateAsync(Call("Bearer " + unsigned)));

        Assert.Equal(StatusCode.Unauthenticated, error.StatusCode);
    }

    [Fact]
    public async Task Authenticate_NoHeader_Unauthenticated()
    {
        var error = await Assert.ThrowsAsync<RpcException>(() => Tokens().AuthenticateAsync(Call(null)));

        Assert.Equal(StatusCode.Unauthenticated, error.StatusCode);
    }

    private sealed class TestCallContext(string? authorization) : ServerCallContext
    {
        private readonly Metadata _headers = authorization is null ? [] : new Metadata { { "authorization", authorization } };

        protected override string MethodCore => "/test/Method";

        protected override string HostCore => "localhost";

        protected override string PeerCore => "ipv4:127.0.0.1:1";

        protected override DateTime DeadlineCore => DateTime.MaxValue;

        protected override Metadata RequestHeadersCore => _headers;

        protected override CancellationToken CancellationTokenCore => CancellationToken.None;

        protected override Metadata ResponseTrailersCore { get; } = [];

        protected override Status StatusCore { get; set; }

        protected override WriteOptions? WriteOptionsCore { get; set; }

        protected override AuthContext AuthContextCore => new(null, []);

        protected override ContextPropagationToken CreatePropagationTokenCore(ContextPropagationOptions? options) => throw new NotSupportedException();

        protected override Task WriteResponseHeadersAsyncCore(Metadata responseHeaders) => Task.CompletedTask;
    }
}
