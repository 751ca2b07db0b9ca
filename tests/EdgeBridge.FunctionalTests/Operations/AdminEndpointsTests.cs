using System.Net;
using System.Net.WebSockets;
using EdgeBridge.FunctionalTests.Common;

namespace EdgeBridge.FunctionalTests.Operations;

public sealed class AdminFixture : StackFixture
{
    public const string Key = "operator-key-for-tests";

    protected override IDictionary<string, string?> EdgeSettings => new Dictionary<string, string?> { ["EdgeBridge:Admin:ApiKey"] = Key };
}

/// <summary>Operators see every connection and subscription, and can close one; nobody else can.</summary>
public sealed class AdminEndpointsTests(AdminFixture stack) : IClassFixture<AdminFixture>
{
    [Fact]
    public async Task ListConnections_ShowsSubscriptionsWithMethodQueueAndDrops()
    {
        var (socket, ack) = await EdgeSocket.OpenAsync(stack.Edge);
        await using var __ = socket;
        await socket.SubscribeAsync("q", "trading.v1.MarketDataService/StreamQuotes", new { symbols = new[] { "ACME" } });
        await socket.ReceiveUntilAsync(f => f.Type() == "next");

        var (response, json) = await SendAsync(HttpMethod.Get, "/admin/connections", AdminFixture.Key);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var connection = json.GetProperty("connections").EnumerateArray().Single(c => c.GetProperty("id").GetString() == ack.GetProperty("connectionId").GetString());
        var subscription = Assert.Single(connection.GetProperty("subscriptions").EnumerateArray());
        Assert.Equal("q", subscription.GetProperty("id").GetString());
        Assert.Equal("trading.v1.MarketDataService/StreamQuotes", subscription.GetProperty("method").GetString());
        Assert.Equal(64, subscription.GetProperty("queueLimit").GetInt32());
        Assert.True(subscription.GetProperty("delivered").GetInt64() >= 1);
        Assert.Equal(0, subscription.GetProperty("dropped").GetInt64());
    }

    [Fact]
    public async Task CloseConnection_ClientGetsPolicyClose_AndUpstreamCancelled()
    {
        const string method = "chat.v1.ChatService/StreamRoom";
        var (socket, ack) = await EdgeSocket.OpenAsync(stack.Edge);
        await using var __ = socket;
        var cancelledBefore = stack.Backend.Calls.Cancelled(method);
        var startedBefore = stack.Backend.Calls.Started(method);
        await socket.SubscribeAsync("r", method, new { room = "admin-close" });
        await Wait.UntilAsync(() => stack.Backend.Calls.Started(method) > startedBefore, "the upstream call runs");

        var (response, _) = await SendAsync(HttpMethod.Post, $"/admin/connections/{ack.GetProperty("connectionId").GetString()}:close", AdminFixture.Key);

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        Assert.Equal(WebSocketCloseStatus.PolicyViolation, await socket.ReceiveCloseAsync());
        await Wait.UntilAsync(() => stack.Backend.Calls.Cancelled(method) > cancelledBefore, "the backend sees the cancellation");
    }

    [Theory]
    [InlineData(null, HttpStatusCode.Unauthorized)]
    [InlineData("wrong-key", HttpStatusCode.Forbidden)]
    public async Task WithoutTheKey_Refused(string? key, HttpStatusCode expected)
    {
        var (response, json) = await SendAsync(HttpMethod.Get, "/admin/connections", key);

        Assert.Equal(expected, response.StatusCode);
        Assert.True(json.TryGetProperty("code", out _));
    }

    [Fact]
    public async Task CloseUnknownConnection_NotFound()
    {
        var (response, _) = await SendAsync(HttpMethod.Post, "/admin/connections/nope:close", AdminFixture.Key);

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    private async Task<(HttpResponseMessage, System.Text.Json.JsonElement)> SendAsync(HttpMethod method, string path, string? key)
    {
        using var request = new HttpRequestMessage(method, path);
        if (key is not null)
        {
            request.Headers.Add("x-edgebridge-admin-key", key);
        }

        var response = await stack.Rest.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return (response, text.Length == 0 ? default : System.Text.Json.JsonDocument.Parse(text).RootElement.Clone());
    }
}
