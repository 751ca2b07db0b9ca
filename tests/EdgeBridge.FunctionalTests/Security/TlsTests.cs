using System.Net;
using System.Net.Security;
using System.Net.WebSockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using EdgeBridge.FunctionalTests.Common;
using Grpc.Net.Client;
using Trading.V1;

namespace EdgeBridge.FunctionalTests.Security;

/// <summary>An edge whose only endpoint is HTTPS with a freshly generated self-signed certificate from configuration.</summary>
public sealed class TlsStackFixture : StackFixture
{
    private readonly string _certificatePath = Path.Combine(Path.GetTempPath(), "edgebridge-tls-" + Guid.NewGuid().ToString("N") + ".pfx");

    public TlsStackFixture()
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest("CN=localhost", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        names.AddDnsName("localhost");
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], critical: false));
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(7));
        File.WriteAllBytes(_certificatePath, certificate.Export(X509ContentType.Pfx, "test-password"));
        Thumbprint = certificate.GetCertHashString();
    }

    public string Thumbprint { get; }

    protected override IDictionary<string, string?> EdgeSettings => new Dictionary<string, string?>
    {
        ["Kestrel:Endpoints:Http:Url"] = "https://127.0.0.1:0",
        ["Kestrel:Endpoints:Http:Protocols"] = "Http1AndHttp2",
        ["Kestrel:Endpoints:Http:Certificate:Path"] = _certificatePath,
        ["Kestrel:Endpoints:Http:Certificate:Password"] = "test-password",
        // One TLS port for everything: gRPC is served there only because this listener is given the role.
        ["EdgeBridge:Listeners:Http:Roles"] = "Browser, Grpc, Operations",
    };

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        File.Delete(_certificatePath);
    }

    /// <summary>Trusts exactly the generated certificate, as a client pinning it would.</summary>
    public bool Validate(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors) =>
        certificate is not null && string.Equals(certificate.GetCertHashString(), Thumbprint, StringComparison.OrdinalIgnoreCase);
}

public sealed class TlsTests(TlsStackFixture stack) : IClassFixture<TlsStackFixture>
{
    private string Origin => $"https://127.0.0.1:{stack.Edge.HttpPort}";

    [Fact]
    public async Task Https_RestOverTls_WithHsts()
    {
        using var client = new HttpClient(new SocketsHttpHandler { SslOptions = { RemoteCertificateValidationCallback = stack.Validate } })
        {
            BaseAddress = new Uri(Origin),
        };

        using var response = await client.GetAsync("/v1/quotes/ACME");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("\"symbol\":\"ACME\"", await response.Content.ReadAsStringAsync());
        Assert.True(response.Headers.Contains("Strict-Transport-Security"));
    }

    [Fact]
    public async Task Wss_SubscriptionOverTls()
    {
        using var socket = new ClientWebSocket();
        socket.Options.AddSubProtocol("edgebridge.v1");
        socket.Options.RemoteCertificateValidationCallback = stack.Validate;
        using var timeout = new CancellationTokenSource(Wait.Deadline);
        await socket.ConnectAsync(new Uri($"wss://127.0.0.1:{stack.Edge.HttpPort}/ws"), timeout.Token);

        await socket.SendAsync("""{"type":"init"}"""u8.ToArray(), WebSocketMessageType.Text, true, timeout.Token);
        await socket.SendAsync("""{"type":"subscribe","id":"q","method":"trading.v1.MarketDataService/StreamQuotes","request":{"symbols":["ACME"]}}"""u8.ToArray(), WebSocketMessageType.Text, true, timeout.Token);
        var buffer = new byte[8192];
        var ack = await socket.ReceiveAsync(buffer, timeout.Token);
        Assert.Contains("\"ack\"", System.Text.Encoding.UTF8.GetString(buffer, 0, ack.Count));
        var next = await socket.ReceiveAsync(buffer, timeout.Token);
        Assert.Contains("\"next\"", System.Text.Encoding.UTF8.GetString(buffer, 0, next.Count));
        await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "", timeout.Token);
    }

    [Fact]
    public async Task GrpcOverTls_Http2NegotiatedByAlpnOnTheSamePort()
    {
        using var channel = GrpcChannel.ForAddress(Origin, new GrpcChannelOptions
        {
            HttpHandler = new SocketsHttpHandler { SslOptions = { RemoteCertificateValidationCallback = stack.Validate } },
        });

        var reply = await new MarketDataService.MarketDataServiceClient(channel).GetQuoteAsync(new GetQuoteRequest { Symbol = "HOOL" });

        Assert.Equal("HOOL", reply.Quote.Symbol);
    }

    [Fact]
    public async Task UntrustedCertificate_Refused()
    {
        using var client = new HttpClient { BaseAddress = new Uri(Origin) };

        await Assert.ThrowsAsync<HttpRequestException>(() => client.GetAsync("/healthz"));
    }
}
