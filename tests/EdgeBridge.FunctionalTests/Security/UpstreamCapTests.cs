using System.Net;
using EdgeBridge.FunctionalTests.Common;

namespace EdgeBridge.FunctionalTests.Security;

/// <summary>An edge whose upstream-call caps are small enough to reach with a handful of sockets.</summary>
public sealed class UpstreamCapStackFixture : StackFixture
{
    public const int PerAddress = 10;
    public const int PerUser = 6;

    protected override IDictionary<string, string?> EdgeSettings => new Dictionary<string, string?>
    {
        ["EdgeBridge:Upstream:MaxCallsPerAddress"] = PerAddress.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["EdgeBridge:Upstream:MaxCallsPerUser"] = PerUser.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };
}

/// <summary>
/// Subscriptions make the edge open upstream calls; one client holding many sockets must not turn them into an
/// unbounded number of backend streams. Beyond a cap, <c>subscribe</c> answers error 8 for that id and the
/// connection goes on; joining a running shared call costs nothing.
/// </summary>
public sealed class UpstreamCapTests(UpstreamCapStackFixture stack) : IClassFixture<UpstreamCapStackFixture>
{
    private const string StreamRoom = "chat.v1.ChatService/StreamRoom";
    private const string StreamQuotes = "trading.v1.MarketDataService/StreamQuotes";
    private const string StreamOrderUpdates = "trading.v1.TradingService/StreamOrderUpdates";

    [Fact]
    public async Task PerCallerSubscriptionsFromOneAddress_BeyondTheCap_Error8_ConnectionsGoOn_OtherAddressesServed()
    {
        var address = Loopback.Address(30, 1);
        var sockets = new List<EdgeSocket>();
        var refused = 0;
        var before = stack.Backend.Calls.Started(StreamRoom);
        try
        {
            // Three sockets with five per-caller subscriptions each: fifteen asked, ten allowed.
            for (var s = 0; s < 3; s++)
            {
                var (socket, _) = await EdgeSocket.OpenAsync(stack.Edge, localAddress: address);
                sockets.Add(socket);
                for (var i = 0; i < 5; i++)
                {
                    refused += await SubscribeAsync(socket, "room-" + i, StreamRoom, new { room = $"caps-{s}-{i}" }) is 8 ? 1 : 0;
                }
            }

            Assert.Equal(5, refused);
            await Wait.UntilAsync(() => stack.Backend.Calls.Started(StreamRoom) - before == UpstreamCapStackFixture.PerAddress, "the allowed calls have started");
            foreach (var socket in sockets)
            {
                await socket.SendAsync(new { type = "ping" });
                Assert.Equal("pong", (await socket.ReceiveUntilAsync(f => f.Type() == "pong")).Match.Type());
                Assert.Equal(System.Net.WebSockets.WebSocketState.Open, socket.State);
            }

            var (other, _) = await EdgeSocket.OpenAsync(stack.Edge, localAddress: Loopback.Address(30, 2));
            await using (other)
            {
                Assert.Null(await SubscribeAsync(other, "room", StreamRoom, new { room = "caps-other" }));
            }

            // Ending a subscription gives its call back.
            await sockets[0].SendAsync(new { type = "unsubscribe", id = "room-0" });
            await sockets[0].ReceiveUntilAsync(f => f.Type() == "complete");
            await Wait.UntilAsync(async () => await SubscribeAsync(sockets[2], "again-" + Guid.NewGuid().ToString("N")[..8], StreamRoom, new { room = "caps-again" }) is null,
                "a new subscription fits once one has ended");
        }
        finally
        {
            foreach (var socket in sockets)
            {
                await socket.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task ConnectAndGrpcWebStreams_CountAgainstTheSameCap_RefusedInTheirOwnTerms()
    {
        using var http = Loopback.Http(stack.Edge.HttpAddress, Loopback.Address(30, 9));
        var open = new List<HttpResponseMessage>();
        var before = stack.Backend.Calls.Started(StreamRoom);
        async Task<HttpResponseMessage> OpenAsync(int i, bool grpcWeb)
        {
            var body = grpcWeb
                ? Rpc.RpcWire.Envelope(new Chat.V1.StreamRoomRequest { Room = $"rpc-caps-{i}" })
                : Rpc.RpcWire.Envelope($$"""{"room":"rpc-caps-{{i}}"}""");
            using var request = Rpc.RpcWire.Post("/" + StreamRoom, body, grpcWeb ? "application/grpc-web+proto" : "application/connect+json");
            return await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        }

        try
        {
            // Up to the cap, alternately Connect and gRPC-Web streams, each its own per-caller upstream call.
            for (var i = 0; i < UpstreamCapStackFixture.PerAddress; i++)
            {
                open.Add(await OpenAsync(i, grpcWeb: i % 2 == 1));
            }

            await Wait.UntilAsync(() => stack.Backend.Calls.Started(StreamRoom) - before == UpstreamCapStackFixture.PerAddress, "every stream up to the cap has its call");

            // One more of each is refused: gRPC-Web trailers-only, Connect as the end of its stream; no call starts.
            using var grpcWeb = await OpenAsync(100, grpcWeb: true);
            using var connect = await OpenAsync(101, grpcWeb: false);
            var end = await new Rpc.RpcWire.EnvelopeReader(await connect.Content.ReadAsStreamAsync()).NextAsync();

            Assert.Equal("8", grpcWeb.Headers.GetValues("grpc-status").Single());
            Assert.Equal(2, end!.Value.Flags);
            Assert.Equal("resource_exhausted", System.Text.Json.JsonDocument.Parse(end.Value.Payload).RootElement.GetProperty("error").GetProperty("code").GetString());
            Assert.Equal(UpstreamCapStackFixture.PerAddress, stack.Backend.Calls.Started(StreamRoom) - before);
        }
        finally
        {
            foreach (var response in open)
            {
                response.Dispose();
            }
        }
    }

    [Fact]
    public async Task AtTheCap_JoiningARunningSharedCall_CostsNothing_ButANewSharedCallDoes()
    {
        var address = Loopback.Address(31, 1);
        var (sharer, _) = await EdgeSocket.OpenAsync(stack.Edge, localAddress: Loopback.Address(31, 2));
        var (socket, _) = await EdgeSocket.OpenAsync(stack.Edge, localAddress: address);
        await using var _1 = sharer;
        await using var _2 = socket;
        Assert.Null(await SubscribeAsync(sharer, "quotes", StreamQuotes, new { symbols = new[] { "ACME" } }));
        for (var i = 0; i < UpstreamCapStackFixture.PerAddress; i++)
        {
            Assert.Null(await SubscribeAsync(socket, "room-" + i, StreamRoom, new { room = "shared-caps-" + i }));
        }

        var joined = await SubscribeAsync(socket, "same-quotes", StreamQuotes, new { symbols = new[] { "ACME" } });
        var fresh = await SubscribeAsync(socket, "new-quotes", StreamQuotes, new { symbols = new[] { "HOOL", "GLBX" } });

        Assert.Null(joined);
        Assert.Equal(8, fresh);
        await socket.ReceiveUntilAsync(f => f.Type() == "next" && f.Id() == "same-quotes");
    }

    [Fact]
    public async Task OneUserOnManyAddresses_BeyondTheUserCap_Error8()
    {
        var token = TokenMinter.Mint("bob", "acc-bob");
        var codes = new List<int?>();
        var sockets = new List<EdgeSocket>();
        try
        {
            for (var s = 0; s < 3; s++)
            {
                var (socket, _) = await EdgeSocket.OpenAsync(stack.Edge, token, localAddress: Loopback.Address(32, s + 1));
                sockets.Add(socket);
                for (var i = 0; i < 3; i++)
                {
                    codes.Add(await SubscribeAsync(socket, "orders-" + i, StreamOrderUpdates, new { accountId = "acc-bob", afterSequence = "999999" }));
                }
            }

            Assert.Equal(UpstreamCapStackFixture.PerUser, codes.Count(c => c is null));
            Assert.Equal(9 - UpstreamCapStackFixture.PerUser, codes.Count(c => c == 8));
        }
        finally
        {
            foreach (var socket in sockets)
            {
                await socket.DisposeAsync();
            }
        }
    }

    /// <summary>Subscribes and returns the error code the edge answered with, or null when it took the subscription.</summary>
    private static async Task<int?> SubscribeAsync(EdgeSocket socket, string id, string method, object request)
    {
        await socket.SubscribeAsync(id, method, request);

        // A subscription that was taken has no answer of its own: the pong after it says it was not refused.
        await socket.SendAsync(new { type = "ping" });
        var (_, before) = await socket.ReceiveUntilAsync(f => f.Type() == "pong");
        return before.FirstOrDefault(f => f.Type() == "error" && f.Id() == id) is { ValueKind: System.Text.Json.JsonValueKind.Object } error ? error.Code() : null;
    }
}
