using System.Text;
using Trading.Backend.Tests.Common;

namespace Trading.Backend.Tests.Feed;

public sealed class SqliteEventFeedTests : IDisposable
{
    private readonly BackendParts _parts = new();

    public void Dispose() => _parts.Dispose();

    [Fact]
    public async Task FollowAsync_WhileOthersAppend_YieldsEveryEventOnceInOrder()
    {
        const int total = 300;
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await _parts.Feed.AppendAsync("s", "e1"u8.ToArray(), cts.Token);
        var seen = new List<long>();

        var follower = Task.Run(async () =>
        {
            await foreach (var item in _parts.Feed.FollowAsync("s", 0, cts.Token))
            {
                seen.Add(item.Sequence);
                if (seen.Count == total)
                {
                    return;
                }
            }
        });
        var writers = Enumerable.Range(0, 3).Select(w => Task.Run(async () =>
        {
            for (var i = 0; i < (total - 1) / 3 + (w < (total - 1) % 3 ? 1 : 0); i++)
            {
                await _parts.Feed.AppendAsync("s", Encoding.UTF8.GetBytes($"w{w}-{i}"), cts.Token);
            }
        }));
        await Task.WhenAll(writers);
        await follower;

        Assert.Equal(Enumerable.Range(1, total).Select(i => (long)i), seen);
    }

    [Fact]
    public async Task FollowAsync_AfterSequence_StartsWithTheNextEvent()
    {
        for (var i = 1; i <= 5; i++)
        {
            await _parts.Feed.AppendAsync("room", Encoding.UTF8.GetBytes($"m{i}"), CancellationToken.None);
        }

        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await using var events = _parts.Feed.FollowAsync("room", 3, cts.Token).GetAsyncEnumerator(cts.Token);

        Assert.True(await events.MoveNextAsync());
        Assert.Equal(4, events.Current.Sequence);
        Assert.Equal("m4", Encoding.UTF8.GetString(events.Current.Payload.Span));
    }

    [Fact]
    public async Task AppendAsync_SequencesArePerStream()
    {
        var a1 = await _parts.Feed.AppendAsync("a", "x"u8.ToArray(), CancellationToken.None);
        var b1 = await _parts.Feed.AppendAsync("b", "x"u8.ToArray(), CancellationToken.None);
        var a2 = await _parts.Feed.AppendAsync("a", "x"u8.ToArray(), CancellationToken.None);

        Assert.Equal((1L, 1L, 2L), (a1.Sequence, b1.Sequence, a2.Sequence));
    }
}
