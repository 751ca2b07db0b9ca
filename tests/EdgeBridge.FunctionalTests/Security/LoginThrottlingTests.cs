using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using EdgeBridge.FunctionalTests.Common;
using Grpc.Core;
using Trading.V1;

namespace EdgeBridge.FunctionalTests.Security;

/// <summary>An edge with small login budgets and windows long enough that nothing refills during a test.</summary>
public sealed class LoginThrottleStackFixture : StackFixture
{
    public const int PerPair = 3;
    public const int PerAddress = 6;
    public const int PerUser = 8;

    protected override IDictionary<string, string?> EdgeSettings => new Dictionary<string, string?>
    {
        ["EdgeBridge:Logins:PerUserAtAddress:Failures"] = PerPair.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["EdgeBridge:Logins:PerUserAtAddress:Window"] = "00:30:00",
        ["EdgeBridge:Logins:PerAddress:Failures"] = PerAddress.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["EdgeBridge:Logins:PerAddress:Window"] = "00:30:00",
        ["EdgeBridge:Logins:PerUser:Failures"] = PerUser.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["EdgeBridge:Logins:PerUser:Window"] = "00:30:00",
    };
}

/// <summary>
/// Failed logins cost the backend a password hash each: beyond their budgets the edge answers 429 / RESOURCE_EXHAUSTED
/// without calling it, on REST and gRPC alike, and an attacker cannot lock a user out of where the user logs in.
/// </summary>
public sealed class LoginThrottlingTests(LoginThrottleStackFixture stack) : IClassFixture<LoginThrottleStackFixture>
{
    private const string Login = "/trading.v1.AuthService/Login";

    [Fact]
    public async Task WrongPasswordsOverRest_ThrottledAfterTheBudget_WithoutCallingTheBackend_OtherAddressesUnaffected()
    {
        using var attacker = Loopback.Http(stack.Edge.HttpAddress, Loopback.Address(20, 1));
        using var alice = Loopback.Http(stack.Edge.HttpAddress, Loopback.Address(20, 2));
        var before = stack.Backend.Calls.UnaryCount(Login);
        for (var i = 0; i < LoginThrottleStackFixture.PerPair; i++)
        {
            using var wrong = await attacker.PostAsJsonAsync("/v1/auth/login", new { username = "alice", password = "guess-" + i });
            Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        }

        // Even the right password is refused from there now: the budget of alice at that address is spent.
        using var throttled = await attacker.PostAsJsonAsync("/v1/auth/login", new { username = "alice", password = "wonderland" });
        var json = JsonDocument.Parse(await throttled.Content.ReadAsStringAsync()).RootElement;

        StatusAssert.IsRpcStatus(throttled, json, HttpStatusCode.TooManyRequests, 8);
        Assert.InRange(throttled.Headers.RetryAfter!.Delta!.Value, TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(30));
        Assert.Equal(before + LoginThrottleStackFixture.PerPair, stack.Backend.Calls.UnaryCount(Login));
        using var elsewhere = await alice.PostAsJsonAsync("/v1/auth/login", new { username = "alice", password = "wonderland" });
        Assert.Equal(HttpStatusCode.OK, elsewhere.StatusCode);
    }

    [Fact]
    public async Task WrongPasswordsOverGrpc_ThrottledAfterTheBudget_WithoutCallingTheBackend_OtherAddressesUnaffected()
    {
        using var attackerChannel = Loopback.Grpc(stack.Edge.GrpcAddress, Loopback.Address(21, 1));
        using var bobChannel = Loopback.Grpc(stack.Edge.GrpcAddress, Loopback.Address(21, 2));
        var attacker = new AuthService.AuthServiceClient(attackerChannel);
        var before = stack.Backend.Calls.UnaryCount(Login);
        for (var i = 0; i < LoginThrottleStackFixture.PerPair; i++)
        {
            var wrong = await Assert.ThrowsAsync<RpcException>(async () => await attacker.LoginAsync(new LoginRequest { Username = "bob", Password = "guess-" + i }));
            Assert.Equal(StatusCode.Unauthenticated, wrong.StatusCode);
        }

        var throttled = await Assert.ThrowsAsync<RpcException>(async () => await attacker.LoginAsync(new LoginRequest { Username = "bob", Password = "builder" }));

        Assert.Equal(StatusCode.ResourceExhausted, throttled.StatusCode);
        Assert.Contains("retry after", throttled.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(before + LoginThrottleStackFixture.PerPair, stack.Backend.Calls.UnaryCount(Login));
        var elsewhere = await new AuthService.AuthServiceClient(bobChannel).LoginAsync(new LoginRequest { Username = "bob", Password = "builder" });
        Assert.False(string.IsNullOrEmpty(elsewhere.AccessToken));
    }

    [Fact]
    public async Task FailuresForManyNamesFromOneAddress_ThrottleThatAddress()
    {
        using var attacker = Loopback.Http(stack.Edge.HttpAddress, Loopback.Address(22, 1));
        for (var i = 0; i < LoginThrottleStackFixture.PerAddress; i++)
        {
            using var wrong = await attacker.PostAsJsonAsync("/v1/auth/login", new { username = $"nobody-{Guid.NewGuid():N}", password = "x" });
            Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        }

        using var throttled = await attacker.PostAsJsonAsync("/v1/auth/login", new { username = $"nobody-{Guid.NewGuid():N}", password = "x" });

        Assert.Equal(HttpStatusCode.TooManyRequests, throttled.StatusCode);
    }
}

/// <summary>The all-address budget of one user, alone on its edge so that no other test spends it.</summary>
public sealed class DistributedLoginThrottlingTests(LoginThrottleStackFixture stack) : IClassFixture<LoginThrottleStackFixture>
{
    [Fact]
    public async Task GuessesSpreadOverManyAddresses_LockTheUserOutOfNewAddressesOnly_NotWhereTheyLoggedInBefore()
    {
        using var home = Loopback.Http(stack.Edge.HttpAddress, Loopback.Address(23, 1));
        using (var first = await home.PostAsJsonAsync("/v1/auth/login", new { username = "alice", password = "wonderland" }))
        {
            Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        }

        // Two guesses from each of four addresses: no address nor pair reaches its own budget, the user's is spent.
        for (var address = 0; address < LoginThrottleStackFixture.PerUser / 2; address++)
        {
            using var attacker = Loopback.Http(stack.Edge.HttpAddress, Loopback.Address(24, address + 1));
            for (var i = 0; i < 2; i++)
            {
                using var wrong = await attacker.PostAsJsonAsync("/v1/auth/login", new { username = "alice", password = "guess" });
                Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
            }
        }

        using var stranger = Loopback.Http(stack.Edge.HttpAddress, Loopback.Address(25, 1));
        using var fromNewAddress = await stranger.PostAsJsonAsync("/v1/auth/login", new { username = "alice", password = "wonderland" });
        using var fromHome = await home.PostAsJsonAsync("/v1/auth/login", new { username = "alice", password = "wonderland" });

        Assert.Equal(HttpStatusCode.TooManyRequests, fromNewAddress.StatusCode);
        Assert.Equal(HttpStatusCode.OK, fromHome.StatusCode);
    }
}
