using EdgeBridge.FunctionalTests.Common;
using EdgeBridge.WebSockets;

namespace EdgeBridge.FunctionalTests.WebSockets;

/// <summary>A market that moves every millisecond: enough traffic to fill a stalled client's buffers within seconds.</summary>
public sealed class FastMarketFixture : StackFixture
{
    protected override IDictionary<string, string?> BackendSettings => new Dictionary<string, string?>
    {
        ["Backend:Market:TickInterval"] = "00:00:00.001",
        ["Backend:Market:Volatility"] = "0.01",
    };
}

public sealed class SlowConsumerTests(FastMarketFixture stack) : IClassFixture<FastMarketFixture>
{
    [Fact]
    public async Task StalledSubscriber_DropsOldestWithinItsBound_FastSubscriberUnaffected()
    {
        const string method = "trading.v1.MarketDataService/StreamQuotes";
        var registry = stack.Edge.Services.GetRequiredService<ConnectionRegistry>();
        var (slow, slowAck) = await EdgeSocket.OpenAsync(stack.Edge, receiveBufferBytes: 4096);
        var (fast, _) = await EdgeSocket.OpenAsync(stack.Edge);
        await using var _1 = slow;
        await using var _2 = fast;
        var slowId = slowAck.GetProperty("connectionId").GetString();
        await slow.SubscribeAsync("stalled", method);
        await fast.SubscribeAsync("quick", method);

        // The slow client never reads again. Its queue must hit the method's bound and start dropping...
        var slowSubscription = await WaitForSubscriptionAsync(registry, slowId!);
        await Wait.UntilAsync(() => slowSubscription.DroppedTotal > 1000, "the stalled subscription drops its oldest quotes");

        // ...while the fast client on the same shared stream keeps receiving, in order. (How many it skips itself
        // depends on how fast this test can parse JSON on a busy machine, so that is not asserted.)
        var slowDroppedBefore = slowSubscription.DroppedTotal;
        var lastSequence = new Dictionary<string, long>(StringComparer.Ordinal);
        // At least 2000 frames, and until the upstream has moved on: the fast client may be reading what its socket
        // buffered long ago, and a busy machine can leave the 1 ms market without a tick for tens of milliseconds.
        for (var i = 0; i < 2000 || (slowSubscription.DroppedTotal == slowDroppedBefore && i < 200_000); i++)
        {
            var frame = await fast.ReceiveAsync();
            Assert.Equal("next", frame.Type());
            var quote = frame.GetProperty("message").GetProperty("quote");
            var symbol = quote.GetProperty("symbol").GetString()!;
            var sequence = long.Parse(quote.GetProperty("sequence").GetString()!, System.Globalization.CultureInfo.InvariantCulture);
            Assert.True(sequence > lastSequence.GetValueOrDefault(symbol, -1), $"{symbol} went from {lastSequence.GetValueOrDefault(symbol)} to {sequence}");
            lastSequence[symbol] = sequence;
        }

        // The stalled client stayed stalled all along, within its bound.
        Assert.True(slowSubscription.DroppedTotal > slowDroppedBefore, "the stalled subscription kept dropping while the fast one received");
        Assert.InRange(slowSubscription.QueueDepth, 0, slowSubscription.Method.Policy.QueueLimit);
        Assert.Equal(64, slowSubscription.Method.Policy.QueueLimit);
    }

    private static async Task<EdgeBridge.WebSockets.Subscription> WaitForSubscriptionAsync(ConnectionRegistry registry, string connectionId)
    {
        EdgeBridge.WebSockets.Subscription? found = null;
        await Wait.UntilAsync(() =>
        {
            var subscriptions = registry.Connections.FirstOrDefault(c => c.Id == connectionId)?.Subscriptions;
            found = subscriptions is { Count: > 0 } ? subscriptions[0] : null;
            return found is not null;
        }, "the slow subscription exists");
        return found!;
    }
}
