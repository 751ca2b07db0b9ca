using EdgeBridge.WebSockets;

namespace EdgeBridge.Tests.WebSockets;

public sealed class OutboundSchedulerTests
{
    [Fact]
    public async Task WaitingWriter_IsWokenBySchedule_AgainAndAgain()
    {
        var scheduler = new OutboundScheduler();
        var source = new Source();

        // The same wait is reused for every turn of the writer.
        for (var turn = 0; turn < 1000; turn++)
        {
            var wait = scheduler.WaitToReadAsync();
            var schedule = Task.Run(() => scheduler.Schedule(source));
            Assert.True(await wait);
            await schedule;
            Assert.True(scheduler.TryRead(out var read));
            Assert.Same(source, read);
            Assert.False(scheduler.TryRead(out _));
        }
    }

    [Fact]
    public async Task Complete_LetsTheWriterDrainWhatIsQueued_ThenEndsItsWait()
    {
        var scheduler = new OutboundScheduler();
        var first = new Source();
        scheduler.Schedule(first);

        scheduler.Complete();
        scheduler.Schedule(new Source());

        Assert.True(await scheduler.WaitToReadAsync());
        Assert.True(scheduler.TryRead(out var read));
        Assert.Same(first, read);
        Assert.False(await scheduler.WaitToReadAsync());
    }

    [Fact]
    public async Task Complete_WhileTheWriterWaits_EndsTheWait()
    {
        var scheduler = new OutboundScheduler();
        var wait = scheduler.WaitToReadAsync();
        Assert.False(wait.IsCompleted);

        scheduler.Complete();

        Assert.False(await wait);
    }

    private sealed class Source : IOutboundSource
    {
        public bool TryTake(out OutboundFrame frame)
        {
            frame = default;
            return false;
        }

        public void Drained()
        {
        }
    }
}
