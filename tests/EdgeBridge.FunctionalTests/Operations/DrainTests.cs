using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using EdgeBridge.FunctionalTests.Common;

namespace EdgeBridge.FunctionalTests.Operations;

/// <summary>
/// Graceful drain with live traffic: the stopping edge fails readiness, refuses new sockets, tells live ones to move
/// (goaway) and sends the rest away with 1001 at the end of the drain period; an in-flight REST request finishes
/// within the grace period and is cancelled upstream once the period ends.
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
    public async Task Stopping_SocketsAreToldToGoFirst_ReadinessFails_ThenTheRestGet1001_AndInFlightRestFinishes()
    {
        await StartEdgeAsync(gracePeriod: TimeSpan.FromMinutes(2), drainPeriod: TimeSpan.FromSeconds(3));
        using var rest = new HttpClient { BaseAddress = new Uri(_edge.HttpAddress), Timeout = Timeout.InfiniteTimeSpan };
        var inFlight = rest.GetAsync("/v1/quotes/ACME");
        await _held.Arrived.WaitAsync(Wait.Deadline);
        var (socket, _) = await EdgeSocket.OpenAsync(_edge);
        await using var __ = socket;
        await socket.SubscribeAsync("r", "chat.v1.ChatService/StreamRoom", new { room = "drain" });
        await Wait.UntilAsync(() => _backend.Calls.Active("chat.v1.ChatService/StreamRoom") == 1, "the upstream call runs");

        var stopping = _edge.StopAsync();

        // Announced first, while the edge still serves: the client can move before it is cut off.
        var (goAway, _) = await socket.ReceiveUntilAsync(f => f.Type() == "goaway");
        Assert.Equal(3000, goAway.GetProperty("reconnectWithinMs").GetInt32());
        using (var ready = await rest.GetAsync("/readyz"))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
        }

        Assert.Equal(HttpStatusCode.ServiceUnavailable, await EdgeSocket.RefusedStatusAsync(_edge, "edgebridge.v1"));

        // This client did not move: at the end of the drain it is sent away.
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
    public async Task Stopping_EveryClientMoved_TheDrainEndsWithoutWaitingOutItsPeriod()
    {
        await StartEdgeAsync(gracePeriod: TimeSpan.FromMinutes(5), drainPeriod: TimeSpan.FromMinutes(4));
        var (socket, _) = await EdgeSocket.OpenAsync(_edge);
        await using var __ = socket;
        await socket.SubscribeAsync("r", "chat.v1.ChatService/StreamRoom", new { room = "drain" });

        var stopping = _edge.StopAsync();
        await socket.ReceiveUntilAsync(f => f.Type() == "goaway");
        await socket.DisposeAsync();

        // Well inside the four-minute period: the last connection leaving ends the drain.
        await stopping.WaitAsync(Wait.Deadline);
    }

    [Fact]
    public async Task Stopping_RequestOutlivingTheGracePeriod_IsAbortedAndCancelledUpstream()
    {
        await StartEdgeAsync(gracePeriod: TimeSpan.FromSeconds(1), drainPeriod: TimeSpan.Zero);
        using var rest = new HttpClient { BaseAddress = new Uri(_edge.HttpAddress), Timeout = Timeout.InfiniteTimeSpan };
        var inFlight = rest.GetAsync("/v1/quotes/ACME");
        await _held.Arrived.WaitAsync(Wait.Deadline);

        await _edge.StopAsync().WaitAsync(Wait.Deadline);

        // SocketsHttpHandler retries an idempotent GET whose connection broke; the retry's connect to the stopped edge
        // may surface as the raw SocketException (it fails in RemoteEndPoint, outside the handler's wrapping).
        var failure = await Assert.ThrowsAnyAsync<Exception>(() => inFlight.WaitAsync(Wait.Deadline));
        Assert.True(failure is HttpRequestException or System.Net.Sockets.SocketException, failure.ToString());
        await _held.Aborted.WaitAsync(Wait.Deadline);
    }

    private Task StartEdgeAsync(TimeSpan gracePeriod, TimeSpan drainPeriod) => _edge.StartAsync(_backend, new Dictionary<string, string?>
    {
        ["EdgeBridge:WebSockets:DrainPeriod"] = drainPeriod.ToString(),
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
