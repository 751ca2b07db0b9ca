using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using EdgeBridge.FunctionalTests.Common;

namespace EdgeBridge.FunctionalTests.Operations;

/// <summary>
/// Graceful drain with live traffic: the stopping edge refuses new connections, sends sockets away with 1001,
/// lets an in-flight REST request finish within the grace period and cancels it upstream once the period ends.
/// </summary>
public sealed class DrainTests : IAsyncLifetime
{
    private readonly BackendServer _backend = new();
    private readonly HeldBackend _held = new();
    private readonly EdgeServer _edge = new();

    public async Task InitializeAsync()
    {
        await _backend.StartAsync();
        await _held.StartAsync();
    }

    public async Task DisposeAsync()
    {
        await _edge.DisposeAsync();
        await _held.DisposeAsync();
        await _backend.DisposeAsync();
    }

    [Fact]
    public async Task Stopping_InFlightRestFinishes_SocketsGet1001_NewConnectionsRefused()
    {
        await StartEdgeAsync(gracePeriod: TimeSpan.FromMinutes(2));
        using var rest = new HttpClient { BaseAddress = new Uri(_edge.HttpAddress), Timeout = Timeout.InfiniteTimeSpan };
        var inFlight = rest.GetAsync("/v1/quotes/ACME");
        await _held.Arrived.WaitAsync(Wait.Deadline);
        var (socket, _) = await EdgeSocket.OpenAsync(_edge);
        await using var __ = socket;
        await socket.SubscribeAsync("r", "chat.v1.ChatService/StreamRoom", new { room = "drain" });
        await Wait.UntilAsync(() => _backend.Calls.Active("chat.v1.ChatService/StreamRoom") == 1, "the upstream call runs");

        var stopping = _edge.StopAsync();

        Assert.Equal(WebSocketCloseStatus.EndpointUnavailable, await socket.ReceiveCloseAsync());
        await Wait.UntilAsync(() => !Accepts(_edge.HttpPort), "the edge stops accepting connections");
        Assert.False(stopping.IsCompleted, "the edge waits for the request in flight");

        _held.Release();
        using var response = await inFlight.WaitAsync(Wait.Deadline);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("""{"held":"released"}""", await response.Content.ReadAsStringAsync());
        await stopping.WaitAsync(Wait.Deadline);
        await Wait.UntilAsync(() => _backend.Calls.Active("chat.v1.ChatService/StreamRoom") == 0, "the upstream call is cancelled");
    }

    [Fact]
    public async Task Stopping_RequestOutlivingTheGracePeriod_IsAbortedAndCancelledUpstream()
    {
        await StartEdgeAsync(gracePeriod: TimeSpan.FromSeconds(1));
        using var rest = new HttpClient { BaseAddress = new Uri(_edge.HttpAddress), Timeout = Timeout.InfiniteTimeSpan };
        var inFlight = rest.GetAsync("/v1/quotes/ACME");
        await _held.Arrived.WaitAsync(Wait.Deadline);

        await _edge.StopAsync().WaitAsync(Wait.Deadline);

        await Assert.ThrowsAsync<HttpRequestException>(() => inFlight.WaitAsync(Wait.Deadline));
        await _held.Aborted.WaitAsync(Wait.Deadline);
    }

    private Task StartEdgeAsync(TimeSpan gracePeriod) => _edge.StartAsync(_backend, new Dictionary<string, string?>
    {
        ["ReverseProxy:Clusters:backend-rest:Destinations:backend:Address"] = _held.Address,
        ["ReverseProxy:Clusters:backend-rest:HttpRequest:Version"] = "2",
        ["HostOptions:ShutdownTimeout"] = gracePeriod.ToString(),
    });

    private static bool Accepts(int port)
    {
        using var client = new TcpClient();
        try
        {
            client.Connect(IPAddress.Loopback, port);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
