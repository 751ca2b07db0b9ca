using System.Net;
using System.Text.Json;
using EdgeBridge.FunctionalTests.Common;

namespace EdgeBridge.FunctionalTests.Rpc;

/// <summary>
/// A unary Connect or gRPC-Web call ends at its deadline — the client's (<c>Connect-Timeout-Ms</c>, <c>grpc-timeout</c>),
/// the edge's default when it set none, the edge's maximum when it asked for more — and the upstream call is
/// cancelled with it: the upstream here holds every call until it is given up.
/// </summary>
public sealed class RpcDeadlineTests : IAsyncLifetime
{
    private const string GetQuote = "/trading.v1.MarketDataService/GetQuote";

    private readonly BackendServer _backend = new();
    private readonly HeldBackend _held = new();
    private readonly EdgeServer _edge = new();
    private HttpClient _rest = null!;

    public async Task InitializeAsync()
    {
        await _backend.StartAsync();
        await _held.StartAsync();
        await _edge.StartAsync(_backend, new Dictionary<string, string?>
        {
            ["ReverseProxy:Clusters:backend-grpc:Destinations:backend:Address"] = _held.Address,
            // No health probes: every request the held upstream sees is a call of this test.
            ["ReverseProxy:Clusters:backend-grpc:HealthCheck:Active:Enabled"] = "false",
            ["EdgeBridge:Rpc:DefaultTimeout"] = "00:00:00.300",
            ["EdgeBridge:Rpc:MaxTimeout"] = "00:00:00.600",
        });
        _rest = new HttpClient { BaseAddress = new Uri(_edge.HttpAddress), Timeout = Timeout.InfiniteTimeSpan };
    }

    public async Task DisposeAsync()
    {
        _rest.Dispose();
        await _edge.DisposeAsync();
        await _held.DisposeAsync();
        await _backend.DisposeAsync();
    }

    [Theory]
    [InlineData("200")]
    [InlineData(null)]        // the edge's default
    [InlineData("3600000")]   // an hour, capped by the edge's maximum
    public async Task Connect_TheCallEndsAtItsDeadline_DeadlineExceeded_AndTheUpstreamCallIsCancelled(string? timeoutMs)
    {
        using var request = RpcWire.Connect(GetQuote, """{"symbol":"ACME"}""");
        if (timeoutMs is not null)
        {
            request.Headers.Add("Connect-Timeout-Ms", timeoutMs);
        }

        using var response = await _rest.SendAsync(request).WaitAsync(Wait.Deadline);

        Assert.Equal(HttpStatusCode.GatewayTimeout, response.StatusCode);
        Assert.Equal("deadline_exceeded", JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("code").GetString());
        await _held.Aborted.WaitAsync(Wait.Deadline);
        var metrics = await _rest.GetStringAsync("/metrics");
        Assert.Contains(metrics.Split('\n'), line => line.StartsWith("edgebridge_http_calls_total{", StringComparison.Ordinal)
            && line.Contains("code=\"DEADLINE_EXCEEDED\"", StringComparison.Ordinal)
            && line.Contains("method=\"trading.v1.MarketDataService/GetQuote\"", StringComparison.Ordinal)
            && line.Contains("protocol=\"connect\"", StringComparison.Ordinal));
    }

    [Fact]
    public async Task GrpcWeb_GrpcTimeout_EndsTheCallWithStatus4_AndTheUpstreamCallIsCancelled()
    {
        using var request = RpcWire.Post(GetQuote, RpcWire.Envelope(new Trading.V1.GetQuoteRequest { Symbol = "ACME" }), "application/grpc-web+proto");
        request.Headers.TryAddWithoutValidation("grpc-timeout", "200m");

        using var response = await _rest.SendAsync(request).WaitAsync(Wait.Deadline);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var status = response.Headers.TryGetValues("grpc-status", out var values)
            ? values.Single()
            : RpcWire.Trailers((await new RpcWire.EnvelopeReader(await response.Content.ReadAsStreamAsync()).NextAsync())!.Value.Payload)["grpc-status"];
        Assert.Equal("4", status);
        await _held.Aborted.WaitAsync(Wait.Deadline);
    }
}
