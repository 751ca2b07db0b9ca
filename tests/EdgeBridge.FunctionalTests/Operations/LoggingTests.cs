using EdgeBridge.FunctionalTests.Common;
using Microsoft.Extensions.Logging;

namespace EdgeBridge.FunctionalTests.Operations;

/// <summary>The edge's logs: structured, carrying connection and subscription ids, never a token or a payload.</summary>
public sealed class LoggingTests(LoggingTests.Fixture stack) : IClassFixture<LoggingTests.Fixture>
{
    [Fact]
    public async Task WebSocketSession_IsLoggedWithIds_WithoutTokensOrMessageBodies()
    {
        var session = await stack.LoginAsync();
        var secret = "payload-" + Guid.NewGuid().ToString("N");
        var (socket, ack) = await EdgeSocket.OpenAsync(stack.Edge, session.Token);
        var connectionId = ack.GetProperty("connectionId").GetString()!;
        await using (socket)
        {
            await socket.SubscribeAsync("room-sub", "chat.v1.ChatService/StreamRoom", new { room = "logs", afterSequence = "0" });
            await stack.SendAsync(HttpMethod.Post, "/v1/rooms/logs/messages", session, new { text = secret });
            await socket.ReceiveUntilAsync(f => f.Type() == "next");
            await socket.SendAsync(new { type = "auth", token = session.Token });
            await socket.SendTextAsync("{\"type\":\"subscribe\",\"id\":\"" + secret + "-too-long-" + new string('x', 80) + "\"}");
            await socket.ReceiveUntilAsync(f => f.Type() == "error");
            await socket.SendAsync(new { type = "frobnicate", token = session.Token });
            await socket.ReceiveUntilAsync(f => f.Type() == "error");
        }

        var entries = await WaitForAsync(() => stack.Logs.Entries.Where(e => e.Values.GetValueOrDefault("ConnectionId") == connectionId).ToList(),
            list => list.Any(e => e.Values.ContainsKey("CloseCode")), "the entry that the connection ended");

        Assert.Contains(entries, e => e.Values.GetValueOrDefault("SubscriptionId") == "room-sub" && e.Values.GetValueOrDefault("Method") == "chat.v1.ChatService/StreamRoom");
        Assert.All(entries, e => Assert.StartsWith("EdgeBridge", e.Category, StringComparison.Ordinal));
        foreach (var entry in stack.Logs.Entries)
        {
            var text = entry.Message + string.Join(" ", entry.Values.Values) + entry.Exception;
            Assert.DoesNotContain(session.Token, text, StringComparison.Ordinal);
            Assert.DoesNotContain(secret, text, StringComparison.Ordinal);
        }
    }

    private static async Task<List<LogEntry>> WaitForAsync(Func<List<LogEntry>> read, Func<List<LogEntry>, bool> done, string what)
    {
        var entries = read();
        await Wait.UntilAsync(() => done(entries = read()), what);
        return entries;
    }

    public sealed class Fixture : StackFixture
    {
        public LogCollector Logs { get; } = new();

        // Every level, to show that not even Debug carries a token or a payload.
        protected override IDictionary<string, string?> EdgeSettings => new Dictionary<string, string?> { ["Logging:LogLevel:Default"] = "Debug" };

        public override Task InitializeAsync()
        {
            Edge.ConfigureServices = services => services.AddSingleton<ILoggerProvider>(Logs);
            return base.InitializeAsync();
        }
    }
}
