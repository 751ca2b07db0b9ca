using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;
using EdgeBridge.FunctionalTests.Common;
using Grpc.Core;
using Trading.V1;

namespace EdgeBridge.FunctionalTests.Security;

/// <summary>An edge whose gRPC listener has small limits of its own.</summary>
public sealed class GrpcLimitsStackFixture : StackFixture
{
    public const int MaxMessageBytes = 64 * 1024;
    public const int MaxStreams = 7;

    protected override IDictionary<string, string?> EdgeSettings => new Dictionary<string, string?>
    {
        ["EdgeBridge:Grpc:MaxMessageBytes"] = MaxMessageBytes.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["EdgeBridge:Grpc:PerAddress:PermitsPerSecond"] = "5",
        ["EdgeBridge:Grpc:PerAddress:Burst"] = "10",
        ["EdgeBridge:Grpc:PerUser:PermitsPerSecond"] = "3",
        ["EdgeBridge:Grpc:PerUser:Burst"] = "6",
        ["Kestrel:Limits:Http2:MaxStreamsPerConnection"] = MaxStreams.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };
}

/// <summary>The gRPC listener's own limits: message size, calls per address and per user, streams per connection.</summary>
public sealed class GrpcListenerLimitsTests(GrpcLimitsStackFixture stack) : IClassFixture<GrpcLimitsStackFixture>
{
    private const string GetQuote = "/trading.v1.MarketDataService/GetQuote";

    [Fact]
    public async Task MessageOverTheEdgesLimit_ResourceExhaustedFromTheEdge_BackendNeverCalled()
    {
        using var channel = Loopback.Grpc(stack.Edge.GrpcAddress, Loopback.Address(40, 1), maxSendMessageSize: null);
        var before = stack.Backend.Calls.UnaryCount(GetQuote);

        // Well under the backend's own 4 MB limit, over the edge's.
        var error = await Assert.ThrowsAsync<RpcException>(async () => await new MarketDataService.MarketDataServiceClient(channel)
            .GetQuoteAsync(new GetQuoteRequest { Symbol = new string('A', 2 * GrpcLimitsStackFixture.MaxMessageBytes) }));

        Assert.Equal(StatusCode.ResourceExhausted, error.StatusCode);
        Assert.Contains($"the edge accepts at most {GrpcLimitsStackFixture.MaxMessageBytes}", error.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(before, stack.Backend.Calls.UnaryCount(GetQuote));

        // The same connection goes on.
        var quote = await new MarketDataService.MarketDataServiceClient(channel).GetQuoteAsync(new GetQuoteRequest { Symbol = "ACME" });
        Assert.Equal("ACME", quote.Quote.Symbol);
    }

    [Fact]
    public async Task CallFloodFromOneAddress_ResourceExhausted_OtherAddressesServed()
    {
        using var attacker = Loopback.Grpc(stack.Edge.GrpcAddress, Loopback.Address(41, 1));
        var client = new MarketDataService.MarketDataServiceClient(attacker);

        RpcException? limited = null;
        for (var i = 0; i < 200 && limited is null; i++)
        {
            try
            {
                await client.GetQuoteAsync(new GetQuoteRequest { Symbol = "ACME" });
            }
            catch (RpcException ex) when (ex.StatusCode == StatusCode.ResourceExhausted)
            {
                limited = ex;
            }
        }

        Assert.NotNull(limited);
        Assert.Contains("Too many requests", limited.Status.Detail, StringComparison.Ordinal);
        using var other = Loopback.Grpc(stack.Edge.GrpcAddress, Loopback.Address(41, 2));
        Assert.Equal("ACME", (await new MarketDataService.MarketDataServiceClient(other).GetQuoteAsync(new GetQuoteRequest { Symbol = "ACME" })).Quote.Symbol);
    }

    [Fact]
    public async Task CallFloodFromOneUser_OnManyAddresses_ResourceExhausted()
    {
        var alice = new Metadata { { "authorization", "Bearer " + TokenMinter.Mint() } };
        RpcException? limited = null;
        for (var i = 0; i < 200 && limited is null; i++)
        {
            // A fresh address every call: only the user's budget can run out.
            using var channel = Loopback.Grpc(stack.Edge.GrpcAddress, Loopback.Address(42, (i % 250) + 1));
            try
            {
                await new TradingService.TradingServiceClient(channel).GetPortfolioAsync(new GetPortfolioRequest { AccountId = "acc-alice" }, alice);
            }
            catch (RpcException ex) when (ex.StatusCode == StatusCode.ResourceExhausted)
            {
                limited = ex;
            }
        }

        Assert.NotNull(limited);
    }

    [Fact]
    public async Task GrpcListener_AdvertisesItsStreamLimit_InItsHttp2Settings()
    {
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, stack.Edge.GrpcPort);
        var stream = client.GetStream();

        // The client preface and an empty SETTINGS frame; the server's first frame is its SETTINGS.
        await stream.WriteAsync(Encoding.ASCII.GetBytes("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"));
        await stream.WriteAsync(new byte[] { 0, 0, 0, 0x4, 0, 0, 0, 0, 0 });
        var header = await ReadExactlyAsync(stream, 9);
        var length = (header[0] << 16) | (header[1] << 8) | header[2];
        var payload = await ReadExactlyAsync(stream, length);

        Assert.Equal(0x4, header[3]);
        var settings = Enumerable.Range(0, length / 6).ToDictionary(
            i => BinaryPrimitives.ReadUInt16BigEndian(payload.AsSpan(i * 6)),
            i => BinaryPrimitives.ReadUInt32BigEndian(payload.AsSpan((i * 6) + 2)));
        Assert.Equal((uint)GrpcLimitsStackFixture.MaxStreams, settings[0x3]);
    }

    private static async Task<byte[]> ReadExactlyAsync(NetworkStream stream, int count)
    {
        using var timeout = new CancellationTokenSource(Wait.Deadline);
        var buffer = new byte[count];
        await stream.ReadExactlyAsync(buffer, timeout.Token);
        return buffer;
    }
}
