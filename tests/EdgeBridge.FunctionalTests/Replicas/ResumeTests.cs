using EdgeBridge.FunctionalTests.Common;

namespace EdgeBridge.FunctionalTests.Replicas;

/// <summary>
/// A stream whose contract names its cursor (<c>resume</c>) continues across a backend restart: the edge re-opens the
/// broken call from the last message it read, and the subscriber sees no error, no gap and no duplicate.
/// </summary>
public sealed class ResumeTests : IAsyncLifetime
{
    private const string StreamOrderUpdates = "trading.v1.TradingService/StreamOrderUpdates";

    private readonly StackFixture _stack = new();

    public Task InitializeAsync() => _stack.InitializeAsync();

    public Task DisposeAsync() => _stack.DisposeAsync();

    [Fact]
    public async Task BackendRestartsMidStream_OrderUpdatesContinueFromTheCursor_NoErrorNoGapNoDuplicate()
    {
        var alice = await _stack.LoginAsync();
        var (socket, _) = await EdgeSocket.OpenAsync(_stack.Edge, alice.Token);
        await using var _1 = socket;
        await socket.SubscribeAsync("o", StreamOrderUpdates, new { accountId = alice.AccountId });
        var sequences = new List<long>();

        await ReceiveThroughAsync(socket, await PlaceAsync(alice, "ACME"), sequences);
        var calls = _stack.Backend.Calls.Started("/" + StreamOrderUpdates);

        // The backend ends its streams with UNAVAILABLE as it stops, and refuses connections until it is back.
        await _stack.Backend.StopAsync();
        await _stack.Backend.StartAsync();
        await Wait.UntilAsync(() => _stack.Backend.Calls.Started("/" + StreamOrderUpdates) > calls, "the edge re-opens the call");
        await ReceiveThroughAsync(socket, await PlaceAsync(alice, "HOOL"), sequences);

        // Every update of the account exactly once, in order: 1, 2, 3, ...
        Assert.Equal(Enumerable.Range(1, sequences.Count).Select(i => (long)i), sequences);
    }

    private async Task<string> PlaceAsync(Session alice, string symbol)
    {
        var (response, json) = await _stack.SendAsync(HttpMethod.Post, $"/v1/accounts/{alice.AccountId}/orders", alice,
            new { symbol, side = "ORDER_SIDE_BUY", quantity = "1" });
        response.EnsureSuccessStatusCode();
        return json.GetProperty("order").GetProperty("orderId").GetString()!;
    }

    // Frames until the first update of the order; each must be a `next` (an error frame fails the test).
    private static async Task ReceiveThroughAsync(EdgeSocket socket, string orderId, List<long> sequences)
    {
        while (true)
        {
            var frame = await socket.ReceiveAsync(Wait.Deadline);
            Assert.Equal("next", frame.Type());
            var update = frame.GetProperty("message").GetProperty("update");
            sequences.Add(long.Parse(update.GetProperty("sequence").GetString()!, System.Globalization.CultureInfo.InvariantCulture));
            if (update.GetProperty("order").GetProperty("orderId").GetString() == orderId)
            {
                return;
            }
        }
    }
}
