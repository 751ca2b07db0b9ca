using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using EdgeBridge.FunctionalTests.Common;

namespace EdgeBridge.FunctionalTests.Listeners;

/// <summary>An edge whose browser listener sits behind a balancer speaking PROXY protocol v2, one socket per address.</summary>
public sealed class ProxiedListenerFixture : StackFixture
{
    protected override IDictionary<string, string?> EdgeSettings => new Dictionary<string, string?>
    {
        ["EdgeBridge:Listeners:Http:ProxyProtocol"] = "true",
        ["EdgeBridge:Listeners:Http:TrustedProxies:0"] = "127.0.0.1",
        ["EdgeBridge:WebSockets:MaxConnectionsPerAddress"] = "1",

        // The header must come within a second; what follows it has its own timeouts.
        ["Kestrel:Limits:RequestHeadersTimeout"] = "00:00:01",
    };
}

/// <summary>
/// Behind the balancer, the client the PROXY header names is the client: per-address limits count it, not the
/// balancer; a connection without the header is closed; the balancer's own LOCAL health checks are served.
/// </summary>
public sealed class ProxyProtocolTests(ProxiedListenerFixture stack) : IClassFixture<ProxiedListenerFixture>
{
    [Fact]
    public async Task PerAddressLimit_CountsTheProxiedClients_NotTheBalancer()
    {
        var (first, _) = await EdgeSocket.OpenAsync(stack.Edge, proxiedFrom: IPAddress.Parse("198.51.100.1"));
        await using var __ = first;
        var (second, _) = await EdgeSocket.OpenAsync(stack.Edge, proxiedFrom: IPAddress.Parse("198.51.100.2"));
        await using var ___ = second;

        // Both came through the same balancer address (127.0.0.1), yet each is its own client.
        var refused = await Assert.ThrowsAsync<WebSocketException>(() => EdgeSocket.ConnectAsync(stack.Edge, proxiedFrom: IPAddress.Parse("198.51.100.1")));
        Assert.Contains("429", refused.Message);
    }

    [Fact]
    public async Task ConnectionWithoutTheHeader_IsClosed_OthersGoOn()
    {
        using var plain = new HttpClient { BaseAddress = new Uri(stack.Edge.HttpAddress) };

        await Assert.ThrowsAsync<HttpRequestException>(() => plain.GetAsync("/healthz"));

        var (socket, _) = await EdgeSocket.OpenAsync(stack.Edge, proxiedFrom: IPAddress.Parse("198.51.100.9"));
        await socket.DisposeAsync();
    }

    [Fact]
    public async Task LocalHeader_TheBalancersHealthCheck_IsServed()
    {
        using var raw = new TcpClient();
        await raw.ConnectAsync(IPAddress.Loopback, stack.Edge.HttpPort);
        var stream = raw.GetStream();
        await stream.WriteAsync(ProxyHeader.Local());
        await stream.WriteAsync("GET /healthz HTTP/1.1\r\nHost: edge\r\nConnection: close\r\n\r\n"u8.ToArray());

        using var reader = new StreamReader(stream);
        var statusLine = await reader.ReadLineAsync().WaitAsync(Wait.Deadline);
        Assert.Equal("HTTP/1.1 200 OK", statusLine);
    }

    [Fact]
    public async Task ProxiedSocket_OutlivesTheHeaderTimeout()
    {
        var (socket, _) = await EdgeSocket.OpenAsync(stack.Edge, proxiedFrom: IPAddress.Parse("198.51.100.5"));
        await using var __ = socket;
        await socket.SubscribeAsync("q", "trading.v1.MarketDataService/StreamQuotes", new { symbols = new[] { "ACME", "HOOL", "STRK" } });
        var opened = System.Diagnostics.Stopwatch.StartNew();

        // Quotes keep arriving well past the one-second header timeout: only the header was timed.
        while (opened.Elapsed < TimeSpan.FromSeconds(3))
        {
            var (frame, _) = await socket.ReceiveUntilAsync(f => f.Type() is "next" or "error");
            Assert.Equal("next", frame.Type());
        }

        Assert.Equal(WebSocketState.Open, socket.State);
    }

    [Fact]
    public async Task NoHeaderWithinTheTimeout_IsClosed()
    {
        using var raw = new TcpClient();
        await raw.ConnectAsync(IPAddress.Loopback, stack.Edge.HttpPort);

        // Nothing sent: the edge gives up after the headers timeout.
        Assert.Equal(0, await ReadOrResetAsync(raw.GetStream(), new byte[16]));
    }

    [Fact]
    public async Task MalformedHeader_IsClosed()
    {
        using var raw = new TcpClient();
        await raw.ConnectAsync(IPAddress.Loopback, stack.Edge.HttpPort);
        var stream = raw.GetStream();
        var header = ProxyHeader.V2(new IPEndPoint(IPAddress.Parse("198.51.100.3"), 1), new IPEndPoint(IPAddress.Loopback, 2));
        header[12] = 0x11; // version 1 in the binary form: not a header the edge accepts

        // The edge may reset the connection as soon as it reads the header: on the second write or on the read.
        var buffer = new byte[256];
        Assert.Equal(0, await ReadOrResetAsync(stream, buffer, header, "GET /healthz HTTP/1.1\r\nHost: edge\r\n\r\n"u8.ToArray()));
    }

    private static async Task<int> ReadOrResetAsync(NetworkStream stream, byte[] buffer, params byte[][] writes)
    {
        try
        {
            foreach (var bytes in writes)
            {
                await stream.WriteAsync(bytes);
            }

            return await stream.ReadAsync(buffer).AsTask().WaitAsync(Wait.Deadline);
        }
        catch (IOException)
        {
            return 0;
        }
    }
}

/// <summary>An edge that takes PROXY headers only from a balancer at another address than the tests'.</summary>
public sealed class ElsewhereBalancerFixture : StackFixture
{
    protected override IDictionary<string, string?> EdgeSettings => new Dictionary<string, string?>
    {
        ["EdgeBridge:Listeners:Http:ProxyProtocol"] = "true",
        ["EdgeBridge:Listeners:Http:TrustedProxies:0"] = "192.0.2.10",
        ["EdgeBridge:Listeners:Http:TrustedProxies:1"] = "2001:db8::/32",
    };
}

/// <summary>
/// A client that reaches the PROXY listener directly cannot name itself an address: a valid header from a peer
/// that is not a trusted proxy closes the connection before anything is read.
/// </summary>
public sealed class UntrustedProxyTests(ElsewhereBalancerFixture stack) : IClassFixture<ElsewhereBalancerFixture>
{
    [Fact]
    public async Task ValidHeader_FromAnUntrustedPeer_IsClosed_AndTheGrpcListenerGoesOn()
    {
        using var raw = new TcpClient();
        await raw.ConnectAsync(IPAddress.Loopback, stack.Edge.HttpPort);
        var stream = raw.GetStream();

        // Closed without an answer: a reset (on a write or the read) or the end of the stream — whichever comes first.
        var answered = await AnsweredAsync(stream, ProxyHeader.V2(new IPEndPoint(IPAddress.Parse("198.51.100.7"), 40000), new IPEndPoint(IPAddress.Loopback, stack.Edge.HttpPort)),
            "GET /healthz HTTP/1.1\r\nHost: edge\r\nConnection: close\r\n\r\n"u8.ToArray());
        Assert.False(answered);

        // The other listener, without the PROXY protocol, is not affected.
        var quote = await new Trading.V1.MarketDataService.MarketDataServiceClient(stack.Grpc).GetQuoteAsync(new Trading.V1.GetQuoteRequest { Symbol = "ACME" });
        Assert.Equal("ACME", quote.Quote.Symbol);
    }

    private static async Task<bool> AnsweredAsync(NetworkStream stream, params byte[][] writes)
    {
        try
        {
            foreach (var bytes in writes)
            {
                await stream.WriteAsync(bytes);
            }

            var buffer = new byte[256];
            return await stream.ReadAsync(buffer).AsTask().WaitAsync(TimeSpan.FromSeconds(30)) > 0;
        }
        catch (IOException)
        {
            return false;
        }
    }
}
