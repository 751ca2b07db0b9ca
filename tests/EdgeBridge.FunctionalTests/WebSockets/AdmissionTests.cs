using System.Diagnostics;
using System.Net;
using System.Net.WebSockets;
using EdgeBridge.FunctionalTests.Common;

namespace EdgeBridge.FunctionalTests.WebSockets;

/// <summary>An edge that admits one new socket a second per address, after a burst of three.</summary>
public sealed class AddressAdmissionFixture : StackFixture
{
    protected override IDictionary<string, string?> EdgeSettings => new Dictionary<string, string?>
    {
        ["EdgeBridge:WebSockets:HandshakesPerAddress:PermitsPerSecond"] = "1",
        ["EdgeBridge:WebSockets:HandshakesPerAddress:Burst"] = "3",
    };
}

/// <summary>An edge that admits one new socket a second in all, after a burst of six.</summary>
public sealed class EdgeAdmissionFixture : StackFixture
{
    protected override IDictionary<string, string?> EdgeSettings => new Dictionary<string, string?>
    {
        ["EdgeBridge:WebSockets:Handshakes:PermitsPerSecond"] = "1",
        ["EdgeBridge:WebSockets:Handshakes:Burst"] = "6",
    };
}

/// <summary>A client reconnecting in a tight loop is slowed down with 429 and Retry-After; open sockets go on.</summary>
public sealed class AddressAdmissionTests(AddressAdmissionFixture stack) : IClassFixture<AddressAdmissionFixture>
{
    [Fact]
    public async Task ReconnectingInATightLoop_429WithRetryAfter_OtherAddressesAndOpenSocketsGoOn()
    {
        var loop = IPAddress.Parse("127.0.0.21");
        var (kept, _) = await EdgeSocket.OpenAsync(stack.Edge, localAddress: loop);
        await using var __ = kept;
        await kept.SubscribeAsync("q", "trading.v1.MarketDataService/StreamQuotes", new { symbols = new[] { "ACME" } });
        await kept.ReceiveUntilAsync(f => f.Type() == "next");

        var (status, retryAfter, admitted, elapsed) = await Admission.ConnectUntilRefusedAsync(stack.Edge, _ => loop);

        Assert.Equal(HttpStatusCode.TooManyRequests, status);
        Assert.InRange(retryAfter, 1, 60);

        // The burst (3, one already taken by the kept socket) plus what one a second refilled meanwhile.
        Assert.InRange(admitted, 2, 2 + (int)Math.Ceiling(elapsed.TotalSeconds) + 1);
        await kept.ReceiveUntilAsync(f => f.Type() == "next");
        var (other, _) = await EdgeSocket.OpenAsync(stack.Edge, localAddress: IPAddress.Parse("127.0.0.22"));
        await other.DisposeAsync();
    }
}

/// <summary>A storm of new sockets from many addresses is admitted at the edge's rate; beyond it 503 with Retry-After.</summary>
public sealed class EdgeAdmissionTests(EdgeAdmissionFixture stack) : IClassFixture<EdgeAdmissionFixture>
{
    [Fact]
    public async Task StormFromManyAddresses_503WithRetryAfter_UntilTheRateAdmitsMore()
    {
        var (status, retryAfter, admitted, elapsed) = await Admission.ConnectUntilRefusedAsync(stack.Edge, i => IPAddress.Parse($"127.0.1.{1 + (i % 200)}"));

        Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
        Assert.InRange(retryAfter, 1, 60);
        Assert.InRange(admitted, 6, 6 + (int)Math.Ceiling(elapsed.TotalSeconds) + 1);

        // Told when to come back, a refused client is admitted then.
        await Wait.UntilAsync(async () =>
        {
            try
            {
                var (socket, _) = await EdgeSocket.OpenAsync(stack.Edge, localAddress: IPAddress.Parse("127.0.2.1"));
                await socket.DisposeAsync();
                return true;
            }
            catch (WebSocketException)
            {
                return false;
            }
        }, "a socket is admitted once the bucket refills");
    }
}

internal static class Admission
{
    /// <summary>Opens sockets (left open) until one is refused; returns its status and Retry-After, and how many got in.</summary>
    public static async Task<(HttpStatusCode Status, int RetryAfter, int Admitted, TimeSpan Elapsed)> ConnectUntilRefusedAsync(EdgeServer edge, Func<int, IPAddress> from)
    {
        var open = new List<ClientWebSocket>();
        var started = Stopwatch.StartNew();
        try
        {
            for (var i = 0; i < 100; i++)
            {
                var socket = new ClientWebSocket();
                socket.Options.AddSubProtocol("edgebridge.v1");
                socket.Options.CollectHttpResponseDetails = true;
                var address = from(i);
                using var handler = new SocketsHttpHandler
                {
                    ConnectCallback = async (context, token) =>
                    {
                        var raw = new System.Net.Sockets.Socket(System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
                        raw.Bind(new IPEndPoint(address, 0));
                        await raw.ConnectAsync(context.DnsEndPoint, token);
                        return new System.Net.Sockets.NetworkStream(raw, ownsSocket: true);
                    },
                };
                using var invoker = new HttpMessageInvoker(handler, disposeHandler: false);
                try
                {
                    await socket.ConnectAsync(new Uri($"ws://127.0.0.1:{edge.HttpPort}/ws"), invoker, CancellationToken.None);
                    open.Add(socket);
                }
                catch (WebSocketException)
                {
                    var retryAfter = socket.HttpResponseHeaders?.TryGetValue("Retry-After", out var values) == true ? int.Parse(values.First()) : 0;
                    return (socket.HttpStatusCode, retryAfter, open.Count, started.Elapsed);
                }
            }

            throw new Xunit.Sdk.XunitException("100 sockets were admitted: no admission limit applied.");
        }
        finally
        {
            foreach (var socket in open)
            {
                socket.Abort();
                socket.Dispose();
            }
        }
    }
}
