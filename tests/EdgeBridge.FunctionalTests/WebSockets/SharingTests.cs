using EdgeBridge.FunctionalTests.Common;
using EdgeBridge.Streams;
using EdgeBridge.WebSockets;

namespace EdgeBridge.FunctionalTests.WebSockets;

/// <summary>Shared methods: one upstream call however many identical subscribers, ended when the last one leaves.</summary>
public sealed class SharingTests(StackFixture stack) : IClassFixture<StackFixture>
{
    private const string StreamQuotes = "trading.v1.MarketDataService/StreamQuotes";

    [Fact]
    public async Task HundredSubscribers_OneSharedQuoteStream_ExactlyOneUpstreamCall_CancelledAfterLastLeaves()
    {
        var startedBefore = stack.Backend.Calls.Started(StreamQuotes);
        var cancelledBefore = stack.Backend.Calls.Cancelled(StreamQuotes);
        var request = new { symbols = new[] { "WAYN", "CYBD" } };
        var sockets = new List<EdgeSocket>();
        for (var s = 0; s < 10; s++)
        {
            var (socket, _) = await EdgeSocket.OpenAsync(stack.Edge);
            sockets.Add(socket);
            for (var i = 0; i < 10; i++)
            {
                await socket.SubscribeAsync($"q{i}", StreamQuotes, request);
            }
        }

        // Every one of the 100 subscriptions receives quotes...
        foreach (var socket in sockets)
        {
            var seen = new HashSet<string>();
            while (seen.Count < 10)
            {
                var (frame, _) = await socket.ReceiveUntilAsync(f => f.Type() == "next");
                seen.Add(frame.Id()!);
            }
        }

        // ...from exactly one upstream call.
        Assert.Equal(1, stack.Backend.Calls.Started(StreamQuotes) - startedBefore);

        foreach (var socket in sockets)
        {
            await socket.DisposeAsync();
        }

        await Wait.UntilAsync(() => stack.Backend.Calls.Cancelled(StreamQuotes) - cancelledBefore == 1, "the shared call is cancelled after its last subscriber left");
        Assert.Equal(0, stack.Edge.Services.GetRequiredService<UpstreamStreams>().SharedCount);
    }

    [Fact]
    public async Task SharedStream_EachMessageSerializedOnce_SameBytesForEverySubscriber()
    {
        var request = new { symbols = new[] { "OSCP" } };
        var (first, _) = await EdgeSocket.OpenAsync(stack.Edge);
        var (second, _) = await EdgeSocket.OpenAsync(stack.Edge);
        await using var _1 = first;
        await using var _2 = second;
        await first.SubscribeAsync("a", StreamQuotes, request);
        await second.SubscribeAsync("b", StreamQuotes, request);

        // Both see the same sequence of quotes with identical message bytes, only the ids differ.
        var fromFirst = new List<string>();
        var fromSecond = new List<string>();
        while (fromFirst.Count < 5)
        {
            fromFirst.Add((await first.ReceiveUntilAsync(f => f.Type() == "next")).Match.GetProperty("message").GetRawText());
        }

        var firstSequence = System.Text.Json.JsonDocument.Parse(fromFirst[^1]).RootElement.GetProperty("quote").GetProperty("sequence").GetString();
        while (true)
        {
            var message = (await second.ReceiveUntilAsync(f => f.Type() == "next")).Match.GetProperty("message").GetRawText();
            fromSecond.Add(message);
            if (message == fromFirst[^1])
            {
                break;
            }

            Assert.NotEqual(firstSequence, System.Text.Json.JsonDocument.Parse(message).RootElement.GetProperty("quote").GetProperty("sequence").GetString());
        }

        Assert.Contains(fromFirst[^2], fromSecond);
    }

    [Fact]
    public async Task SubscribersLeaveInAnyOrder_TheOthersKeepReceiving_TheLeaversGetNothingMore()
    {
        var startedBefore = stack.Backend.Calls.Started(StreamQuotes);
        var request = new { symbols = new[] { "UMBR" } };
        var (socket, _) = await EdgeSocket.OpenAsync(stack.Edge);
        await using var __ = socket;
        var ids = Enumerable.Range(0, 8).Select(i => $"s{i}").ToList();
        foreach (var id in ids)
        {
            await socket.SubscribeAsync(id, StreamQuotes, request);
        }

        await Wait.UntilAsync(() => stack.Backend.Calls.Started(StreamQuotes) - startedBefore == 1, "one shared call");

        // The first, a middle one, the last: each leaves its own place in the upstream's list.
        string[] leavers = ["s0", "s3", "s7"];
        foreach (var id in leavers)
        {
            await socket.SendAsync(new { type = "unsubscribe", id });
        }

        var completed = new HashSet<string>();
        var stayers = ids.Except(leavers).ToHashSet();
        var nextAfterLeaving = new HashSet<string>();
        while (nextAfterLeaving.Count < stayers.Count)
        {
            var frame = await socket.ReceiveAsync();
            switch (frame.Type())
            {
                case "complete":
                    completed.Add(frame.Id()!);
                    break;
                case "next" when completed.Count == leavers.Length:
                    Assert.DoesNotContain(frame.Id()!, leavers);
                    nextAfterLeaving.Add(frame.Id()!);
                    break;
                case "next":
                    // Queued before the unsubscribe was read; never for a leaver after its complete.
                    Assert.DoesNotContain(frame.Id()!, completed);
                    break;
            }
        }

        Assert.Equal(leavers.ToHashSet(), completed);
        Assert.Equal(stayers, nextAfterLeaving);
        Assert.Equal(1, stack.Backend.Calls.Started(StreamQuotes) - startedBefore);
    }

    [Fact]
    public async Task DifferentRequests_DoNotShare()
    {
        var startedBefore = stack.Backend.Calls.Started(StreamQuotes);
        var (socket, _) = await EdgeSocket.OpenAsync(stack.Edge);
        await using var __ = socket;

        await socket.SubscribeAsync("x", StreamQuotes, new { symbols = new[] { "INIT" } });
        await socket.SubscribeAsync("y", StreamQuotes, new { symbols = new[] { "PIED" } });

        await Wait.UntilAsync(() => stack.Backend.Calls.Started(StreamQuotes) - startedBefore == 2, "two upstream calls for two different requests");
        Assert.Equal(2, stack.Edge.Services.GetRequiredService<ConnectionRegistry>().Connections.Single().Subscriptions.Count);
    }
}
