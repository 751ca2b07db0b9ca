using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using EdgeBridge.FunctionalTests.Common;

namespace EdgeBridge.FunctionalTests.Security;

/// <summary>
/// Two edges in front of one backend: guesses at one user's password spread over both edges, from many addresses,
/// each edge's own throttle far away — and still one budget for the whole system, kept where passwords are checked.
/// </summary>
public sealed class SharedLoginBudgetTests : IAsyncLifetime
{
    private const int Budget = 4;

    private readonly BackendServer _backend = new();
    private readonly EdgeServer _first = new();
    private readonly EdgeServer _second = new();

    public async Task InitializeAsync()
    {
        await _backend.StartAsync(new Dictionary<string, string?>
        {
            ["Backend:Auth:FailedLogins:Failures"] = Budget.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Backend:Auth:FailedLogins:Window"] = "00:30:00",
        });
        await _first.StartAsync(_backend);
        await _second.StartAsync(_backend);
    }

    public async Task DisposeAsync()
    {
        await _second.DisposeAsync();
        await _first.DisposeAsync();
        await _backend.DisposeAsync();
    }

    [Fact]
    public async Task GuessesSpreadOverEdgesAndAddresses_OneBudget_ThenRefusedWithRetryInfo_OtherUsersUnaffected()
    {
        for (var i = 0; i < Budget; i++)
        {
            using var http = Loopback.Http((i % 2 == 0 ? _first : _second).HttpAddress, Loopback.Address(30, 1 + i));
            using var wrong = await http.PostAsJsonAsync("/v1/auth/login", new { username = "bob", password = "guess-" + i });
            Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        }

        // A new address on either edge: each edge has seen only half the guesses, the system all of them.
        foreach (var edge in new[] { _first, _second })
        {
            using var http = Loopback.Http(edge.HttpAddress, Loopback.Address(30, 100));
            using var refused = await http.PostAsJsonAsync("/v1/auth/login", new { username = "bob", password = "builder" });
            var status = JsonDocument.Parse(await refused.Content.ReadAsStringAsync()).RootElement;

            StatusAssert.IsRpcStatus(refused, status, HttpStatusCode.TooManyRequests, 8);
            var retry = status.GetProperty("details").EnumerateArray().Single(d => d.GetProperty("@type").GetString()!.EndsWith("google.rpc.RetryInfo", StringComparison.Ordinal));
            Assert.EndsWith("s", retry.GetProperty("retryDelay").GetString());
        }

        using var alice = Loopback.Http(_second.HttpAddress, Loopback.Address(30, 101));
        using var fine = await alice.PostAsJsonAsync("/v1/auth/login", new { username = "alice", password = "wonderland" });
        Assert.Equal(HttpStatusCode.OK, fine.StatusCode);
    }
}
