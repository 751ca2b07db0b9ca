using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using EdgeBridge.FunctionalTests.Common;
using EdgeBridge.FunctionalTests.Http;
using EdgeBridge.Testing;

namespace EdgeBridge.FunctionalTests.Cluster;

/// <summary>
/// An HTTP stream through HAProxy, whose inactivity timeouts are 30 s, left idle for more than a minute: the edge's
/// heartbeats keep it open, and the next message arrives on the same stream.
/// </summary>
[Collection(PostgresGroup.Name)]
public sealed class IdleStreamTests(PostgresServer postgres) : IAsyncLifetime
{
    private readonly EdgeCluster _cluster = new(postgres);

    public Task InitializeAsync() => _cluster.StartAsync();

    public Task DisposeAsync() => _cluster.DisposeAsync().AsTask();

    [Theory]
    [InlineData("text/event-stream")]
    [InlineData("application/x-ndjson")]
    public async Task IdleMinuteThroughTheBalancer_TheStreamStaysOpen_AndTheNextMessageArrives(string accept)
    {
        var room = "idle-" + Guid.NewGuid().ToString("N")[..8];
        using var http = new HttpClient { BaseAddress = new Uri(_cluster.Balancer.HttpAddress), Timeout = Timeout.InfiniteTimeSpan };
        await using var stream = await EventStream.OpenAsync(http, HttpMethod.Post, "/stream/chat.v1.ChatService/StreamRoom", new { room }, accept);

        // Heartbeats, one after another, until the stream has been quiet of messages for longer than the balancer's
        // 30-second timeouts twice over.
        var idle = Stopwatch.StartNew();
        var heartbeats = 0;
        while (idle.Elapsed < TimeSpan.FromSeconds(65))
        {
            var beat = await stream.NextAsync(_ => true);
            Assert.True(beat.Comment == "heartbeat" || beat.Data.Contains("\"heartbeat\"", StringComparison.Ordinal), $"only heartbeats while idle, got {beat}");
            heartbeats++;
        }

        var alice = await _cluster.LoginAsync();
        using var post = new HttpRequestMessage(HttpMethod.Post, $"/v1/rooms/{room}/messages") { Content = JsonContent.Create(new { text = "still here" }) };
        post.Headers.Authorization = new AuthenticationHeaderValue("Bearer", alice.Token);
        using var posted = await http.SendAsync(post);
        Assert.Equal(HttpStatusCode.OK, posted.StatusCode);

        var next = await stream.NextAsync(e => e.Data.Contains("\"next\"", StringComparison.Ordinal));
        Assert.Equal("still here", JsonDocument.Parse(next.Data).RootElement.GetProperty("message").GetProperty("message").GetProperty("text").GetString());
        Assert.True(heartbeats >= 4, $"{heartbeats} heartbeats in a minute");
    }
}
