using System.Net;
using System.Text.Json;
using EdgeBridge.FunctionalTests.Common;

namespace EdgeBridge.FunctionalTests.Rpc;

/// <summary>An edge whose REST rate limit lets one address make three requests and then one a second.</summary>
public sealed class RpcRateLimitFixture : StackFixture
{
    protected override IDictionary<string, string?> EdgeSettings => new Dictionary<string, string?>
    {
        ["EdgeBridge:Rest:PerAddress:PermitsPerSecond"] = "1",
        ["EdgeBridge:Rest:PerAddress:Burst"] = "3",
    };
}

/// <summary>The platform's rate limiter guards Connect and gRPC-Web as it guards REST, and refuses in each protocol's terms.</summary>
public sealed class RpcLimitsTests(RpcRateLimitFixture stack) : IClassFixture<RpcRateLimitFixture>
{
    private const string GetQuote = "/trading.v1.MarketDataService/GetQuote";

    [Fact]
    public async Task BeyondTheRateLimit_ConnectAnswers429AndGrpcWebResourceExhausted()
    {
        // Ten calls in a row: at most the burst and one a second get through, the rest are refused.
        var connect = new List<(HttpStatusCode Status, string Body)>();
        for (var i = 0; i < 10; i++)
        {
            using var request = RpcWire.Connect(GetQuote, """{"symbol":"ACME"}""");
            using var response = await stack.Rest.SendAsync(request);
            connect.Add((response.StatusCode, await response.Content.ReadAsStringAsync()));
        }

        // The same over gRPC-Web: calls until one is refused (a refill may let one more through).
        HttpResponseMessage? grpcWebResponse = null;
        for (var i = 0; i < 10 && grpcWebResponse is null; i++)
        {
            using var grpcWeb = RpcWire.Post(GetQuote, RpcWire.Envelope(new Trading.V1.GetQuoteRequest { Symbol = "ACME" }), "application/grpc-web+proto");
            var response = await stack.Rest.SendAsync(grpcWeb);
            if (response.Headers.TryGetValues("grpc-status", out var status) && status.Single() != "0")
            {
                grpcWebResponse = response;
            }
            else
            {
                response.Dispose();
            }
        }

        var refused = connect.Where(c => c.Status == HttpStatusCode.TooManyRequests).ToList();
        Assert.NotEmpty(refused);
        Assert.All(refused, r => Assert.Equal("resource_exhausted", JsonDocument.Parse(r.Body).RootElement.GetProperty("code").GetString()));
        Assert.NotNull(grpcWebResponse);
        using var refusal = grpcWebResponse;
        Assert.Equal(HttpStatusCode.OK, grpcWebResponse.StatusCode);
        Assert.Equal("8", grpcWebResponse.Headers.GetValues("grpc-status").Single());
        Assert.True(grpcWebResponse.Headers.Contains("Retry-After"));
    }
}
