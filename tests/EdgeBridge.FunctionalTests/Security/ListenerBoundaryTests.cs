using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using EdgeBridge.FunctionalTests.Common;

namespace EdgeBridge.FunctionalTests.Security;

/// <summary>An edge with small REST limits, so that crossing them takes few requests.</summary>
public sealed class BoundaryStackFixture : StackFixture
{
    protected override IDictionary<string, string?> EdgeSettings => new Dictionary<string, string?>
    {
        ["EdgeBridge:Rest:PerAddress:PermitsPerSecond"] = "10",
        ["EdgeBridge:Rest:PerAddress:Burst"] = "20",
    };
}

/// <summary>
/// One trust boundary per listener: what a request may reach, and which limits it meets, follow from the listener
/// it arrived on and the route it matched, never from a header the client chose. Each test is an attack that the
/// edge used to let through.
/// </summary>
public sealed class ListenerBoundaryTests(BoundaryStackFixture stack) : IClassFixture<BoundaryStackFixture>
{
    private const string Login = "/trading.v1.AuthService/Login";

    [Fact]
    public async Task GrpcContentType_OnTheRestListener_IsNotForwarded_AndItsBodyIsNotAwaited()
    {
        var before = stack.Backend.Calls.UnaryCount(Login);
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, stack.Edge.HttpPort);
        var stream = client.GetStream();

        // A 64 MB gRPC body announced; only its first 64 KB ever sent.
        await stream.WriteAsync(Encoding.ASCII.GetBytes(
            $"POST {Login} HTTP/1.1\r\nHost: 127.0.0.1:{stack.Edge.HttpPort}\r\nContent-Type: application/grpc\r\nTE: trailers\r\nContent-Length: {64 * 1024 * 1024}\r\n\r\n"));
        await stream.WriteAsync(new byte[64 * 1024]);

        var (head, body) = await ReadResponseAsync(stream);

        Assert.StartsWith("HTTP/1.1 404 ", head, StringComparison.Ordinal);
        Assert.Equal(5, JsonDocument.Parse(body).RootElement.GetProperty("code").GetInt32());
        Assert.Equal(before, stack.Backend.Calls.UnaryCount(Login));
    }

    [Fact]
    public async Task SpoofedGrpcContentType_OnARestRoute_MeetsTheRestBodyLimit()
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/auth/login") { Content = new ByteArrayContent(new byte[2 * 1024 * 1024]) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/grpc");

        using var response = await stack.Rest.SendAsync(request);

        var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        StatusAssert.IsRpcStatus(response, json, HttpStatusCode.RequestEntityTooLarge, 8);
    }

    [Fact]
    public async Task SpoofedGrpcContentType_FloodingARestRoute_MeetsTheRestRateLimit()
    {
        using var attacker = Loopback.Http(stack.Edge.HttpAddress, Loopback.Address(10, 1));

        HttpResponseMessage? limited = null;
        for (var i = 0; i < 200 && limited is null; i++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/v1/symbols") { Content = new ByteArrayContent([]) };
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/grpc");
            var response = await attacker.SendAsync(request);
            if (response.StatusCode == HttpStatusCode.TooManyRequests)
            {
                limited = response;
            }
            else
            {
                response.Dispose();
            }
        }

        Assert.NotNull(limited);
        using (limited)
        {
            Assert.True(limited.Headers.RetryAfter?.Delta >= TimeSpan.FromSeconds(1));
            var json = JsonDocument.Parse(await limited.Content.ReadAsStringAsync()).RootElement;
            StatusAssert.IsRpcStatus(limited, json, HttpStatusCode.TooManyRequests, 8);
        }
    }

    [Fact]
    public async Task SpoofedGrpcContentType_FromADisallowedOrigin_Refused403()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/v1/symbols") { Content = new ByteArrayContent([]) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/grpc");
        request.Headers.Add("Origin", "https://evil.example");

        using var response = await stack.Rest.SendAsync(request);

        var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        StatusAssert.IsRpcStatus(response, json, HttpStatusCode.Forbidden, 7);
        Assert.False(response.Headers.Contains("Access-Control-Allow-Origin"));
    }

    [Theory]
    [InlineData("/v1/symbols")]
    [InlineData("/")]
    [InlineData("/openapi/v1.json")]
    [InlineData("/metrics")]
    public async Task BrowserRoutes_DoNotExistOnTheGrpcListener(string path)
    {
        using var grpcPort = new HttpClient
        {
            BaseAddress = new Uri(stack.Edge.GrpcAddress),
            DefaultRequestVersion = HttpVersion.Version20,
            DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };

        var (response, json) = await SendAsync(grpcPort, path);

        StatusAssert.IsRpcStatus(response, json, HttpStatusCode.NotFound, 5);
    }

    private static async Task<(HttpResponseMessage, JsonElement)> SendAsync(HttpClient client, string path)
    {
        var response = await client.GetAsync(path);
        return (response, JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone());
    }

    /// <summary>Reads one HTTP/1.1 response whose body has a Content-Length or is chunked.</summary>
    private static async Task<(string Head, string Body)> ReadResponseAsync(NetworkStream stream)
    {
        using var timeout = new CancellationTokenSource(Wait.Deadline);
        var buffer = new List<byte>();
        var chunk = new byte[8192];
        while (true)
        {
            var text = Encoding.ASCII.GetString(buffer.ToArray());
            var end = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
            if (end >= 0)
            {
                var head = text[..end];
                var rest = text[(end + 4)..];
                if (head.Contains("Transfer-Encoding: chunked", StringComparison.OrdinalIgnoreCase) && rest.Contains("\r\n0\r\n\r\n", StringComparison.Ordinal))
                {
                    return (head, Unchunk(rest));
                }

                var length = head.Split("\r\n").FirstOrDefault(l => l.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase));
                if (length is not null && rest.Length >= int.Parse(length["Content-Length:".Length..].Trim(), System.Globalization.CultureInfo.InvariantCulture))
                {
                    return (head, rest);
                }
            }

            var read = await stream.ReadAsync(chunk, timeout.Token);
            if (read == 0)
            {
                throw new IOException("The edge closed the connection before answering: " + text);
            }

            buffer.AddRange(chunk.AsSpan(0, read));
        }
    }

    private static string Unchunk(string chunked)
    {
        var body = new StringBuilder();
        while (true)
        {
            var line = chunked.IndexOf("\r\n", StringComparison.Ordinal);
            var size = Convert.ToInt32(chunked[..line], 16);
            if (size == 0)
            {
                return body.ToString();
            }

            body.Append(chunked, line + 2, size);
            chunked = chunked[(line + 2 + size + 2)..];
        }
    }
}
