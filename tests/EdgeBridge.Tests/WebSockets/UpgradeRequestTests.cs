using System.Text;
using EdgeBridge.WebSockets;

namespace EdgeBridge.Tests.WebSockets;

public sealed class UpgradeRequestTests
{
    private static readonly byte[] RequestLine = UpgradeRequest.RequestLine("/ws");

    // What Chromium sends for new WebSocket("ws://edge.example:8080/ws", ["edgebridge.v1"]).
    private const string Chromium =
        "GET /ws HTTP/1.1\r\n" +
        "Host: edge.example:8080\r\n" +
        "Connection: Upgrade\r\n" +
        "Pragma: no-cache\r\n" +
        "Cache-Control: no-cache\r\n" +
        "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36\r\n" +
        "Upgrade: websocket\r\n" +
        "Origin: http://edge.example:8080\r\n" +
        "Sec-WebSocket-Version: 13\r\n" +
        "Accept-Encoding: gzip, deflate\r\n" +
        "Accept-Language: en-US,en;q=0.9\r\n" +
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
        "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n" +
        "Sec-WebSocket-Protocol: edgebridge.v1\r\n" +
        "\r\n";

    private static UpgradeParse Parse(string head, out UpgradeRequest request) =>
        UpgradeRequest.Parse(Encoding.Latin1.GetBytes(head), RequestLine, out request);

    [Fact]
    public void BrowserUpgrade_IsAccepted_WithItsKeyHostAndOrigin()
    {
        Assert.Equal(UpgradeParse.Accepted, Parse(Chromium + "\u0081\u0085", out var request));

        Assert.Equal("dGhlIHNhbXBsZSBub25jZQ==", request.Key);
        Assert.Equal("edge.example:8080", request.Host);
        Assert.Equal("http://edge.example:8080", request.Origin);
        Assert.Equal(Chromium.Length, request.HeadLength);
    }

    [Fact]
    public void AcceptKey_IsTheRfc6455Example() =>
        Assert.Equal("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", UpgradeRequest.AcceptKey("dGhlIHNhbXBsZSBub25jZQ=="));

    [Theory]
    [InlineData("G")]
    [InlineData("GET /w")]
    [InlineData("GET /ws HTTP/1.1\r\n")]
    [InlineData("GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n")]
    public void PrefixOfAnUpgrade_IsIncomplete(string head) => Assert.Equal(UpgradeParse.Incomplete, Parse(head, out _));

    [Theory]
    [InlineData("GET /v1/quotes/ACME HTTP/1.1\r\n")]
    [InlineData("GET /wsx HTTP/1.1\r\n")]
    [InlineData("GET /ws?x=1 HTTP/1.1\r\n")]
    [InlineData("GET /ws HTTP/1.0\r\n")]
    [InlineData("POST /ws HTTP/1.1\r\n")]
    [InlineData("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")]
    [InlineData("\u0016\u0003\u0001\u0002\u0000\u0001")]
    public void OtherRequests_AreDeclinedAtTheirFirstBytes(string head) => Assert.Equal(UpgradeParse.Declined, Parse(head, out _));

    [Theory]
    [InlineData("Sec-WebSocket-Protocol: edgebridge.v1\r\n", "Sec-WebSocket-Protocol: graphql-ws\r\n")]
    [InlineData("Sec-WebSocket-Protocol: edgebridge.v1\r\n", "Sec-WebSocket-Protocol: EDGEBRIDGE.V1\r\n")]
    [InlineData("Sec-WebSocket-Protocol: edgebridge.v1\r\n", "")]
    [InlineData("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", "")]
    [InlineData("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ\r\n")]
    [InlineData("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n")]
    [InlineData("Sec-WebSocket-Version: 13\r\n", "Sec-WebSocket-Version: 8\r\n")]
    [InlineData("Upgrade: websocket\r\n", "Upgrade: h2c\r\n")]
    [InlineData("Connection: Upgrade\r\n", "Connection: keep-alive\r\n")]
    [InlineData("Host: edge.example:8080\r\n", "")]
    [InlineData("Host: edge.example:8080\r\n", "Host: edge.example:8080\r\nHost: evil.example\r\n")]
    [InlineData("Origin: http://edge.example:8080\r\n", "Origin: http://a.example\r\nOrigin: http://b.example\r\n")]
    [InlineData("Pragma: no-cache\r\n", "Pragma: no-cache\r\n continued\r\n")]
    [InlineData("Pragma: no-cache\r\n", "Pragma : no-cache\r\n")]
    [InlineData("Pragma: no-cache\r\n", "Pragma no-cache\r\n")]
    [InlineData("Pragma: no-cache\r\n", "Pragma: no\u0000cache\r\n")]
    [InlineData("Pragma: no-cache\r\n", "Pragma: no-caché\r\n")]
    [InlineData("Pragma: no-cache\r\n", "Pragma: no\ncache\r\n")]
    [InlineData("Pragma: no-cache\r\n", "Content-Length: 5\r\n")]
    [InlineData("Pragma: no-cache\r\n", "Transfer-Encoding: chunked\r\n")]
    public void UnusualUpgrade_IsDeclined_ForKestrelToAnswer(string replace, string with) =>
        Assert.Equal(UpgradeParse.Declined, Parse(Chromium.Replace(replace, with, StringComparison.Ordinal), out _));

    [Fact]
    public void TokenLists_AndCaseInsensitiveNames_AreAccepted()
    {
        var head = Chromium
            .Replace("Connection: Upgrade", "connection: keep-alive, Upgrade", StringComparison.Ordinal)
            .Replace("Upgrade: websocket", "UPGRADE:WebSocket", StringComparison.Ordinal)
            .Replace("Sec-WebSocket-Protocol: edgebridge.v1", "sec-websocket-protocol: graphql-ws, edgebridge.v1", StringComparison.Ordinal);

        Assert.Equal(UpgradeParse.Accepted, Parse(head, out _));
    }

    [Fact]
    public void HeadLongerThanTheLimit_IsDeclined()
    {
        var cookie = "Cookie: " + new string('c', UpgradeRequest.MaxHeadBytes) + "\r\n";

        Assert.Equal(UpgradeParse.Declined, Parse(Chromium.Replace("Pragma: no-cache\r\n", cookie, StringComparison.Ordinal), out _));
        Assert.Equal(UpgradeParse.Declined, Parse("GET /ws HTTP/1.1\r\n" + cookie, out _));
    }

    [Theory]
    [InlineData("Host: edge.example:8080\r\n", "Host:\r\n")]
    [InlineData("Host: edge.example:8080\r\n", "Host: edge.example:8080\rX-Smuggled: 1\r\n")]
    [InlineData("Pragma: no-cache\r\n", "Pra gma: no-cache\r\n")]
    [InlineData("Pragma: no-cache\r\n", "\r\n\r\n")]
    [InlineData("Upgrade: websocket\r\n", "Upgrade: websocket\r\nUpgrade: websocket\r\n")]
    [InlineData("Sec-WebSocket-Version: 13\r\n", "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Version: 13\r\n")]
    [InlineData("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", "Sec-WebSocket-Key: ZHVtbXk=\r\n")]
    [InlineData("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", "Sec-WebSocket-Key: !!!!!!!!!!!!!!!!!!!!!!==\r\n")]
    [InlineData("GET /ws HTTP/1.1\r\n", "GET http://edge.example:8080/ws HTTP/1.1\r\n")]
    [InlineData("GET /ws HTTP/1.1\r\n", "GET  /ws HTTP/1.1\r\n")]
    [InlineData("GET /ws HTTP/1.1\r\n", "get /ws HTTP/1.1\r\n")]
    [InlineData("GET /ws HTTP/1.1\r\n", "GET /ws HTTP/1.1\n")]
    public void HostileHead_IsDeclined_ForKestrelToAnswer(string replace, string with) =>
        Assert.Equal(UpgradeParse.Declined, Parse(Chromium.Replace(replace, with, StringComparison.Ordinal), out _));

    [Fact]
    public void ThousandsOfTinyHeaders_AreDeclinedAtTheHeadLimit_NotParsedOneByOne()
    {
        var headers = string.Concat(Enumerable.Repeat("X: y\r\n", (UpgradeRequest.MaxHeadBytes / 6) + 1));

        Assert.Equal(UpgradeParse.Declined, Parse(Chromium.Replace("Pragma: no-cache\r\n", headers, StringComparison.Ordinal), out _));
    }
}
