using System.Net.Sockets;
using System.Text;
using EdgeBridge.FunctionalTests.Common;

namespace EdgeBridge.FunctionalTests.WebSockets;

/// <summary>
/// Upgrades taken at the connection level, before Kestrel's HTTP layer, over raw TCP: however the bytes arrive,
/// an upgrade gets its socket and everything else reaches Kestrel exactly as the client sent it.
/// </summary>
public sealed class DirectUpgradeTests(StackFixture stack) : IClassFixture<StackFixture>
{
    private const string Key = "dGhlIHNhbXBsZSBub25jZQ==";

    internal static string Upgrade(string target = "/ws") =>
        $"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
        $"Sec-WebSocket-Key: {Key}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: edgebridge.v1\r\n\r\n";

    // A masked client text frame (RFC 6455 §5.3), as a browser sends it.
    private static byte[] ClientFrame(string text)
    {
        var payload = Encoding.UTF8.GetBytes(text);
        var mask = new byte[] { 1, 2, 3, 4 };
        var frame = new List<byte> { 0x81, (byte)(0x80 | payload.Length) };
        frame.AddRange(mask);
        frame.AddRange(payload.Select((b, i) => (byte)(b ^ mask[i % 4])));
        return [.. frame];
    }

    [Fact]
    public async Task HeadTrickledByteByByte_IsUpgraded_AndTheSocketWorks()
    {
        using var client = await ConnectAsync();
        foreach (var b in Encoding.ASCII.GetBytes(Upgrade()))
        {
            await client.SendAsync(new[] { b });
        }

        var head = await AssertUpgradedAndInitAnsweredAsync(client);
        Assert.Contains("Sec-WebSocket-Protocol: edgebridge.v1\r\n", head, StringComparison.Ordinal);
    }

    [Fact]
    public async Task FrameSentWithTheHead_IsNotLost()
    {
        using var client = await ConnectAsync();

        await client.SendAsync(Encoding.ASCII.GetBytes(Upgrade()).Concat(ClientFrame("""{"type":"init"}""")).ToArray());

        Assert.StartsWith("HTTP/1.1 101 ", await ReadHeadAsync(client), StringComparison.Ordinal);
        Assert.Contains("\"type\":\"ack\"", await ReadFrameTextAsync(client), StringComparison.Ordinal);
    }

    [Fact]
    public async Task RestRequestTrickledByteByByte_ReachesKestrelWhole_AndTheConnectionStaysUsable()
    {
        using var client = await ConnectAsync();
        const string request = "GET /v1/quotes/ACME HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";

        // "GET /" is also how an upgrade starts: the edge has to wait for more before handing the bytes on.
        foreach (var b in Encoding.ASCII.GetBytes(request))
        {
            await client.SendAsync(new[] { b });
        }

        var first = await ReadHeadAsync(client);
        Assert.StartsWith("HTTP/1.1 200 ", first, StringComparison.Ordinal);
        await ReadBodyAsync(client, first);

        await client.SendAsync(Encoding.ASCII.GetBytes(request));
        Assert.StartsWith("HTTP/1.1 200 ", await ReadHeadAsync(client), StringComparison.Ordinal);
    }

    [Fact]
    public async Task UpgradeTheFastPathDeclines_IsStillUpgradedByTheHttpEndpoint()
    {
        using var client = await ConnectAsync();

        // A query string is beyond the connection-level reader; Kestrel's routing maps it to the endpoint.
        await client.SendAsync(Encoding.ASCII.GetBytes(Upgrade("/ws?client=raw")));

        await AssertUpgradedAndInitAnsweredAsync(client);
    }

    [Fact]
    public async Task ClientGoneRightAfterItsHead_LeavesNoConnectionBehind()
    {
        var registry = stack.Edge.Services.GetRequiredService<EdgeBridge.WebSockets.ConnectionRegistry>();
        // More than the per-address limit (50): a reservation kept by an abandoned handshake would show.
        for (var i = 0; i < 60; i++)
        {
            using var client = await ConnectAsync();
            await client.SendAsync(Encoding.ASCII.GetBytes(Upgrade()));
            client.Close(0);
        }

        // Each reservation is released, so the address is not left at its limit and the next one gets a socket.
        await Wait.UntilAsync(() => !registry.Connections.Any(), "the abandoned connections are gone");
        using var next = await ConnectAsync();
        await next.SendAsync(Encoding.ASCII.GetBytes(Upgrade()));
        Assert.StartsWith("HTTP/1.1 101 ", await ReadHeadAsync(next), StringComparison.Ordinal);
    }

    [Fact]
    public async Task DisallowedOrigin_IsRefusedByTheHttpEndpoint_WithItsStatusBody()
    {
        using var client = await ConnectAsync();

        await client.SendAsync(Encoding.ASCII.GetBytes(Upgrade().Replace("\r\n\r\n", "\r\nOrigin: https://evil.example\r\n\r\n", StringComparison.Ordinal)));

        var head = await ReadHeadAsync(client);
        Assert.StartsWith("HTTP/1.1 403 ", head, StringComparison.Ordinal);
        Assert.Contains("\"code\":7", await ReadBodyAsync(client, head), StringComparison.Ordinal);
    }

    private Task<Socket> ConnectAsync() => ConnectAsync(stack.Edge);

    /// <summary>The answer is a 101 for the RFC's sample key, and the socket then speaks the protocol; returns the head.</summary>
    private static async Task<string> AssertUpgradedAndInitAnsweredAsync(Socket client)
    {
        var head = await ReadHeadAsync(client);
        Assert.StartsWith("HTTP/1.1 101 ", head, StringComparison.Ordinal);
        Assert.Contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n", head, StringComparison.Ordinal);
        await client.SendAsync(ClientFrame("""{"type":"init"}"""));
        Assert.Contains("\"type\":\"ack\"", await ReadFrameTextAsync(client), StringComparison.Ordinal);
        return head;
    }

    internal static async Task<Socket> ConnectAsync(EdgeServer edge)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        using var timeout = new CancellationTokenSource(Wait.Deadline);
        await socket.ConnectAsync("127.0.0.1", edge.HttpPort, timeout.Token);
        return socket;
    }

    private static async Task<byte[]> ReadExactlyAsync(Socket socket, int count)
    {
        var buffer = new byte[count];
        using var timeout = new CancellationTokenSource(Wait.Deadline);
        var read = 0;
        while (read < count)
        {
            var n = await socket.ReceiveAsync(buffer.AsMemory(read), timeout.Token);
            if (n == 0)
            {
                throw new IOException($"closed after {read} of {count} bytes");
            }

            read += n;
        }

        return buffer;
    }

    // Byte by byte, so that nothing after the head is consumed.
    internal static async Task<string> ReadHeadAsync(Socket socket)
    {
        var head = new StringBuilder();
        while (!head.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal))
        {
            head.Append((char)(await ReadExactlyAsync(socket, 1))[0]);
        }

        return head.ToString();
    }

    private static async Task<string> ReadBodyAsync(Socket socket, string head)
    {
        var line = head.Split("\r\n").FirstOrDefault(l => l.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase));
        if (line is not null)
        {
            var length = int.Parse(line["Content-Length:".Length..].Trim(), System.Globalization.CultureInfo.InvariantCulture);
            return Encoding.UTF8.GetString(await ReadExactlyAsync(socket, length));
        }

        // Chunked: size line, data, CRLF, until the empty last chunk.
        var body = new StringBuilder();
        while (true)
        {
            var sizeLine = new StringBuilder();
            while (!sizeLine.ToString().EndsWith("\r\n", StringComparison.Ordinal))
            {
                sizeLine.Append((char)(await ReadExactlyAsync(socket, 1))[0]);
            }

            var size = int.Parse(sizeLine.ToString().Trim(), System.Globalization.NumberStyles.HexNumber, System.Globalization.CultureInfo.InvariantCulture);
            var chunk = await ReadExactlyAsync(socket, size + 2);
            body.Append(Encoding.UTF8.GetString(chunk, 0, size));
            if (size == 0)
            {
                return body.ToString();
            }
        }
    }

    private static async Task<string> ReadFrameTextAsync(Socket socket)
    {
        var header = await ReadExactlyAsync(socket, 2);
        Assert.Equal(0x81, header[0]);
        var length = header[1] & 0x7F;
        if (length == 126)
        {
            var extended = await ReadExactlyAsync(socket, 2);
            length = (extended[0] << 8) | extended[1];
        }

        return Encoding.UTF8.GetString(await ReadExactlyAsync(socket, length));
    }
}

/// <summary>With AllowedHosts set, host filtering stays the HTTP pipeline's: no upgrade skips it.</summary>
public sealed class DirectUpgradeHostFilteringTests(DirectUpgradeHostFilteringTests.Fixture stack) : IClassFixture<DirectUpgradeHostFilteringTests.Fixture>
{
    [Fact]
    public async Task UpgradeForAnotherHost_IsRefusedByHostFiltering()
    {
        using var client = await DirectUpgradeTests.ConnectAsync(stack.Edge);

        await client.SendAsync(Encoding.ASCII.GetBytes(DirectUpgradeTests.Upgrade()));

        Assert.StartsWith("HTTP/1.1 400 ", await DirectUpgradeTests.ReadHeadAsync(client), StringComparison.Ordinal);
    }

    [Fact]
    public async Task UpgradeForAnAllowedHost_IsAccepted()
    {
        using var client = await DirectUpgradeTests.ConnectAsync(stack.Edge);

        await client.SendAsync(Encoding.ASCII.GetBytes(DirectUpgradeTests.Upgrade().Replace("Host: 127.0.0.1", "Host: edge.example", StringComparison.Ordinal)));

        Assert.StartsWith("HTTP/1.1 101 ", await DirectUpgradeTests.ReadHeadAsync(client), StringComparison.Ordinal);
    }

    public sealed class Fixture : StackFixture
    {
        protected override IDictionary<string, string?>? EdgeSettings => new Dictionary<string, string?> { ["AllowedHosts"] = "edge.example" };
    }
}
