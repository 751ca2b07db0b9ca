using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;
using EdgeBridge.FunctionalTests.Common;
using Grpc.Core;
using Trading.V1;

namespace EdgeBridge.FunctionalTests.Security;

/// <summary>An edge with small limits and one extra allowed origin, so every attack crosses its line quickly.</summary>
public sealed class GuardedStackFixture : StackFixture
{
    public const string TrustedOrigin = "https://app.example.test";

    protected override IDictionary<string, string?> EdgeSettings => new Dictionary<string, string?>
    {
        ["EdgeBridge:Browser:AllowedOrigins:0"] = TrustedOrigin,
        ["EdgeBridge:WebSockets:MaxConnectionsPerAddress"] = "5",
        ["EdgeBridge:Rest:PerAddress:PermitsPerSecond"] = "10",
        ["EdgeBridge:Rest:PerAddress:Burst"] = "20",
        ["Kestrel:Limits:RequestHeadersTimeout"] = "00:00:02",
    };
}

/// <summary>
/// The attack table of docs/security.md: each row is one test asserting the exact answer, and that a
/// well-behaved client on another address still gets its quotes meanwhile.
/// </summary>
public sealed class AttackTests(GuardedStackFixture stack) : IClassFixture<GuardedStackFixture>, IAsyncLifetime
{
    private static readonly IPAddress s_bystanderAddress = IPAddress.Parse("127.0.0.2");
    private static readonly IPAddress s_attackerAddress = IPAddress.Parse("127.0.0.3");
    private EdgeSocket _bystander = null!;

    public async Task InitializeAsync()
    {
        (_bystander, _) = await EdgeSocket.OpenAsync(stack.Edge, localAddress: s_bystanderAddress);
        await _bystander.SubscribeAsync("quotes", "trading.v1.MarketDataService/StreamQuotes", new { symbols = new[] { "ACME", "HOOL" } });
        await _bystander.ReceiveUntilAsync(f => f.Type() == "next");
    }

    public async Task DisposeAsync()
    {
        // Whatever the attack, the well-behaved client was served throughout.
        for (var i = 0; i < 3; i++)
        {
            await _bystander.ReceiveUntilAsync(f => f.Type() == "next");
        }

        Assert.Equal(WebSocketState.Open, _bystander.State);
        await _bystander.DisposeAsync();
    }

    public static TheoryData<string> BadTokens => ["expired", "bad-signature", "alg-none", "wrong-audience", "wrong-issuer", "garbage"];

    [Theory]
    [MemberData(nameof(BadTokens))]
    public async Task BadToken_OnRest_401FromTheEdge_BackendNeverCalled(string kind)
    {
        var before = stack.Backend.Calls.UnaryCount("/trading.v1.TradingService/GetPortfolio");

        var (response, json) = await stack.SendAsync(HttpMethod.Get, "/v1/accounts/acc-alice/portfolio", new Session(TokenMinter.Bad(kind), "acc-alice"));

        StatusAssert.IsRpcStatus(response, json, HttpStatusCode.Unauthorized, 16);
        Assert.Contains("rejected by the edge", json.GetProperty("message").GetString());
        Assert.Equal("Bearer", response.Headers.WwwAuthenticate.Single().Scheme);
        Assert.Equal(before, stack.Backend.Calls.UnaryCount("/trading.v1.TradingService/GetPortfolio"));
    }

    [Theory]
    [MemberData(nameof(BadTokens))]
    public async Task BadToken_OnGrpc_Unauthenticated_BackendNeverCalled(string kind)
    {
        var before = stack.Backend.Calls.UnaryCount("/trading.v1.TradingService/GetPortfolio");
        var client = new TradingService.TradingServiceClient(stack.Grpc);

        var error = await Assert.ThrowsAsync<RpcException>(async () => await client.GetPortfolioAsync(
            new GetPortfolioRequest { AccountId = "acc-alice" }, new Metadata { { "authorization", "Bearer " + TokenMinter.Bad(kind) } }));

        Assert.Equal(StatusCode.Unauthenticated, error.StatusCode);
        Assert.Equal(before, stack.Backend.Calls.UnaryCount("/trading.v1.TradingService/GetPortfolio"));
    }

    [Theory]
    [MemberData(nameof(BadTokens))]
    public async Task BadToken_InInit_Closed4401_NoUpstreamCall(string kind)
    {
        await using var socket = await EdgeSocket.ConnectAsync(stack.Edge, localAddress: s_attackerAddress);

        await socket.SendAsync(new { type = "init", token = TokenMinter.Bad(kind) });

        Assert.Equal(4401, (int?)await socket.ReceiveCloseAsync());
    }

    [Fact]
    public async Task AliceReadsBobsOrders_OnRest_403()
    {
        var alice = await stack.LoginAsync();

        var (response, json) = await stack.SendAsync(HttpMethod.Get, "/v1/accounts/acc-bob/orders/ord_anything", alice);

        StatusAssert.IsRpcStatus(response, json, HttpStatusCode.Forbidden, 7);
    }

    [Fact]
    public async Task AliceReadsBobsOrders_OnGrpc_PermissionDenied()
    {
        var alice = await stack.LoginAsync();

        var error = await Assert.ThrowsAsync<RpcException>(async () => await new TradingService.TradingServiceClient(stack.Grpc)
            .GetOrderAsync(new GetOrderRequest { AccountId = "acc-bob", OrderId = "ord_anything" }, alice.Headers));

        Assert.Equal(StatusCode.PermissionDenied, error.StatusCode);
    }

    [Fact]
    public async Task AliceReadsBobsOrders_OnWebSocket_PermissionDenied()
    {
        var alice = await stack.LoginAsync();
        var (socket, _) = await EdgeSocket.OpenAsync(stack.Edge, alice.Token, localAddress: s_attackerAddress);
        await using var __ = socket;

        await socket.SubscribeAsync("bob", "trading.v1.TradingService/StreamOrderUpdates", new { accountId = "acc-bob" });

        var error = await socket.ReceiveAsync();
        Assert.Equal("bob", error.Id());
        Assert.Equal(7, error.Code());
    }

    [Fact]
    public async Task SpoofedIdentityHeader_StrippedAndReplacedByTheEdge()
    {
        var alice = await stack.LoginAsync();
        using var anonymous = StackFixture.Request(HttpMethod.Get, "/v1/quotes/ACME");
        anonymous.Headers.Add("x-edgebridge-user", "bob");
        using var signedIn = StackFixture.Request(HttpMethod.Get, "/v1/accounts/acc-alice/portfolio", alice);
        signedIn.Headers.Add("X-EdgeBridge-User", "bob");

        (await stack.Rest.SendAsync(anonymous)).EnsureSuccessStatusCode();
        (await stack.Rest.SendAsync(signedIn)).EnsureSuccessStatusCode();

        var quote = stack.Backend.Calls.UnaryCalls.Last(c => c.Method == "/trading.v1.MarketDataService/GetQuote").Headers;
        var portfolio = stack.Backend.Calls.UnaryCalls.Last(c => c.Method == "/trading.v1.TradingService/GetPortfolio").Headers;
        Assert.Null(quote.Get("x-edgebridge-user"));
        Assert.Equal("alice", Assert.Single(portfolio, h => h.Key == "x-edgebridge-user").Value);
    }

    [Fact]
    public async Task CrossOriginUpgrade_403BeforeUpgrade()
    {
        Assert.Equal(HttpStatusCode.Forbidden, await EdgeSocket.RefusedStatusAsync(stack.Edge, "edgebridge.v1", origin: "https://evil.example"));
    }

    [Fact]
    public async Task AllowedAndOwnOriginUpgrades_Accepted()
    {
        await using var trusted = await EdgeSocket.ConnectAsync(stack.Edge, origin: GuardedStackFixture.TrustedOrigin, localAddress: s_attackerAddress);
        await using var own = await EdgeSocket.ConnectAsync(stack.Edge, origin: stack.Edge.HttpAddress, localAddress: s_attackerAddress);

        Assert.Equal(WebSocketState.Open, trusted.State);
        Assert.Equal(WebSocketState.Open, own.State);
    }

    [Fact]
    public async Task CrossOriginRest_DisallowedOrigin403_AllowedOriginGetsCors()
    {
        using var evil = StackFixture.Request(HttpMethod.Get, "/v1/symbols");
        evil.Headers.Add("Origin", "https://evil.example");
        using var preflight = new HttpRequestMessage(HttpMethod.Options, "/v1/accounts/acc-alice/orders");
        preflight.Headers.Add("Origin", GuardedStackFixture.TrustedOrigin);
        preflight.Headers.Add("Access-Control-Request-Method", "POST");
        preflight.Headers.Add("Access-Control-Request-Headers", "authorization, content-type");

        using var refused = await stack.Rest.SendAsync(evil);
        using var allowed = await stack.Rest.SendAsync(preflight);

        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        Assert.False(refused.Headers.Contains("Access-Control-Allow-Origin"));
        Assert.Equal(HttpStatusCode.NoContent, allowed.StatusCode);
        Assert.Equal(GuardedStackFixture.TrustedOrigin, allowed.Headers.GetValues("Access-Control-Allow-Origin").Single());
        Assert.Contains("POST", allowed.Headers.GetValues("Access-Control-Allow-Methods").Single());
    }

    [Fact]
    public async Task UpgradeWithoutSubprotocol_400()
    {
        Assert.Equal(HttpStatusCode.BadRequest, await EdgeSocket.RefusedStatusAsync(stack.Edge, subprotocol: null));
    }

    [Fact]
    public async Task ConnectionFloodFromOneAddress_429BeyondTheLimit()
    {
        var held = new List<EdgeSocket>();
        try
        {
            for (var i = 0; i < 5; i++)
            {
                held.Add(await EdgeSocket.ConnectAsync(stack.Edge, localAddress: s_attackerAddress));
            }

            using var refused = new ClientWebSocket();
            refused.Options.AddSubProtocol("edgebridge.v1");
            refused.Options.CollectHttpResponseDetails = true;
            using var invoker = new HttpMessageInvoker(new SocketsHttpHandler { ConnectCallback = Loopback.BindTo(s_attackerAddress) });
            await Assert.ThrowsAsync<WebSocketException>(() => refused.ConnectAsync(new Uri($"ws://127.0.0.1:{stack.Edge.HttpPort}/ws"), invoker, CancellationToken.None));

            Assert.Equal(HttpStatusCode.TooManyRequests, refused.HttpStatusCode);
        }
        finally
        {
            foreach (var socket in held)
            {
                await socket.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task TenThousandMalformedFrames_Closed4400()
    {
        await using var socket = (await EdgeSocket.OpenAsync(stack.Edge, localAddress: s_attackerAddress)).Socket;
        var closed = Task.Run(socket.ReceiveCloseAsync);

        try
        {
            for (var i = 0; i < 10_000 && !closed.IsCompleted; i++)
            {
                await socket.SendTextAsync("{\"type\":");
            }
        }
        catch (WebSocketException)
        {
            // The edge closed while frames were still being sent.
        }

        Assert.Equal(4400, (int?)await closed);
    }

    [Fact]
    public async Task RestFloodFromOneAddress_429WithRetryAfter()
    {
        using var attacker = new HttpClient(new SocketsHttpHandler { ConnectCallback = Loopback.BindTo(s_attackerAddress) })
        {
            BaseAddress = new Uri(stack.Edge.HttpAddress),
        };

        HttpResponseMessage? limited = null;
        for (var i = 0; i < 200 && limited is null; i++)
        {
            var response = await attacker.GetAsync("/v1/symbols");
            if (response.StatusCode == HttpStatusCode.TooManyRequests)
            {
                limited = response;
            }
        }

        Assert.NotNull(limited);
        Assert.True(limited.Headers.RetryAfter?.Delta >= TimeSpan.FromSeconds(1));
        var body = System.Text.Json.JsonDocument.Parse(await limited.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal(8, body.GetProperty("code").GetInt32());
        // Other addresses are not affected.
        Assert.Equal(HttpStatusCode.OK, (await stack.Rest.GetAsync("/v1/symbols")).StatusCode);
    }

    [Fact]
    public async Task SlowlorisHandshake_ConnectionCutAfterHeaderTimeout()
    {
        using var client = new TcpClient(new IPEndPoint(s_attackerAddress, 0));
        await client.ConnectAsync(IPAddress.Loopback, stack.Edge.HttpPort);
        var stream = client.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes("GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"));

        // Keep dribbling header bytes, never finishing the request: the edge must hang up by itself.
        using var deadline = new CancellationTokenSource(Wait.Deadline);
        var buffer = new byte[1024];
        var read = stream.ReadAsync(buffer, deadline.Token).AsTask();
        var dribbled = 0;
        while (!read.IsCompleted && dribbled < 60)
        {
            try
            {
                await stream.WriteAsync("X"u8.ToArray(), deadline.Token);
            }
            catch (IOException)
            {
                break;
            }

            dribbled++;
            await Task.WhenAny(read, Task.Delay(500, deadline.Token));
        }

        int received;
        try
        {
            received = await read;
        }
        catch (IOException)
        {
            received = 0;
        }

        // Either a 408 answer then close, or a plain close: in both cases the edge ended the connection.
        var answer = Encoding.ASCII.GetString(buffer, 0, received);
        Assert.True(received == 0 || answer.StartsWith("HTTP/1.1 408", StringComparison.Ordinal), answer);
        Assert.True(dribbled < 60, "the edge kept the slow handshake open");
    }
}
