using System.Text;
using System.Text.Json;
using CatalogTest.V1;
using EdgeBridge.Contracts;
using EdgeBridge.WebSockets;
using Microsoft.Extensions.Options;

namespace EdgeBridge.Tests.WebSockets;

public sealed class SubscriptionTests
{
    private static StreamingMethod Method(string name, int queueLimit)
    {
        var contracts = new ContractOptions();
        contracts.Files.Add(CatalogTestReflection.Descriptor);
        var catalog = new ContractCatalog(Options.Create(contracts),
            Options.Create(new EdgeBridgeOptions { WebSockets = new EdgeWebSocketOptions { DefaultQueueLimit = queueLimit, MaxQueueLimit = queueLimit } }));
        Assert.True(catalog.TryGet("catalogtest.v1.FeedService/" + name, out var method));
        return method;
    }

    private static byte[] Message(int n) => Encoding.UTF8.GetBytes($$"""{"n":{{n}}}""");

    private static List<JsonElement> Drain(Subscription subscription)
    {
        var frames = new List<JsonElement>();
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        while (subscription.TryTake(out var frame))
        {
            buffer.ResetWrittenCount();
            if (frame.NextPrefix is null)
            {
                System.Buffers.BuffersExtensions.Write(buffer, frame.Bytes.AsSpan());
            }
            else
            {
                EdgeBridge.WebSockets.ServerFrames.WriteNext(buffer, frame.NextPrefix, frame.Dropped, frame.Bytes);
            }

            frames.Add(JsonDocument.Parse(buffer.WrittenMemory).RootElement.Clone());
        }

        return frames;
    }

    [Fact]
    public void Deliver_DropOldestWhenFull_KeepsNewestAndReportsDropCount()
    {
        var subscription = new Subscription("s", Method("SharedFeed", 16), new OutboundScheduler());

        for (var i = 1; i <= 20; i++)
        {
            subscription.Deliver(Message(i));
        }

        var frames = Drain(subscription);
        Assert.Equal(16, frames.Count);
        Assert.Equal(5, frames[0].GetProperty("message").GetProperty("n").GetInt32());
        Assert.Equal(4, frames[0].GetProperty("dropped").GetInt64());
        Assert.All(frames.Skip(1), f => Assert.False(f.TryGetProperty("dropped", out _)));
        Assert.Equal(20, frames[^1].GetProperty("message").GetProperty("n").GetInt32());
        Assert.Equal(4, subscription.DroppedTotal);
    }

    [Fact]
    public void Deliver_EndSubscriptionWhenFull_DeliversBacklogThenResourceExhausted()
    {
        var subscription = new Subscription("s", Method("PrivateFeed", 3), new OutboundScheduler());

        for (var i = 1; i <= 5; i++)
        {
            subscription.Deliver(Message(i));
        }

        var frames = Drain(subscription);
        Assert.Equal(["next", "next", "next", "error"], frames.Select(f => f.GetProperty("type").GetString()));
        Assert.Equal([1, 2, 3], frames.Take(3).Select(f => f.GetProperty("message").GetProperty("n").GetInt32()));
        Assert.Equal(8, frames[3].GetProperty("status").GetProperty("code").GetInt32());
        Assert.Equal("s", frames[3].GetProperty("id").GetString());
    }

    [Fact]
    public void Cancel_DiscardsQueueAndIgnoresLaterMessages()
    {
        var subscription = new Subscription("s", Method("PrivateFeed", 8), new OutboundScheduler());
        subscription.Deliver(Message(1));

        subscription.Cancel();
        subscription.Deliver(Message(2));

        Assert.Empty(Drain(subscription));
    }

    [Fact]
    public void End_AfterMessages_TerminalFrameComesLast()
    {
        var subscription = new Subscription("s", Method("PrivateFeed", 8), new OutboundScheduler());
        subscription.Deliver(Message(1));

        subscription.End(new Google.Rpc.Status());
        subscription.Deliver(Message(2));

        Assert.Equal(["next", "complete"], Drain(subscription).Select(f => f.GetProperty("type").GetString()));
    }

    [Fact]
    public void Deliver_SchedulesTheSubscriptionOnceUntilDrained()
    {
        var scheduler = new OutboundScheduler();
        var subscription = new Subscription("s", Method("PrivateFeed", 8), scheduler);

        subscription.Deliver(Message(1));
        subscription.Deliver(Message(2));

        Assert.True(scheduler.TryRead(out var source));
        Assert.Same(subscription, source);
        Assert.False(scheduler.TryRead(out _));
    }

    [Fact]
    public void DeliverWithoutWake_WaitsForWake_SoABurstLeavesInOneWriterTurn()
    {
        var scheduler = new OutboundScheduler();
        var subscription = new Subscription("s", Method("PrivateFeed", 8), scheduler);

        for (var i = 1; i <= 4; i++)
        {
            subscription.Deliver(Message(i), wake: false);
        }

        Assert.False(scheduler.TryRead(out _));
        subscription.Wake();
        Assert.True(scheduler.TryRead(out var source));
        Assert.Same(subscription, source);
        Assert.Equal([1, 2, 3, 4], Drain(subscription).Select(f => f.GetProperty("message").GetProperty("n").GetInt32()));
    }

    [Fact]
    public void DeliverWithoutWake_Overflow_WakesAtOnceForTheError()
    {
        var scheduler = new OutboundScheduler();
        var subscription = new Subscription("s", Method("PrivateFeed", 3), scheduler);

        for (var i = 1; i <= 4; i++)
        {
            subscription.Deliver(Message(i), wake: false);
        }

        Assert.True(scheduler.TryRead(out _));
        var frames = Drain(subscription);
        Assert.Equal("error", frames[^1].GetProperty("type").GetString());
        Assert.Equal(8, frames[^1].GetProperty("status").GetProperty("code").GetInt32());
    }
}
