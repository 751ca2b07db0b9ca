using System.Text;
using EdgeBridge.Testing;
using Trading.Backend.Tests.Common;

namespace Trading.Backend.Tests.Feed;

/// <summary>The event feed's guarantees, on each store.</summary>
public abstract class EventFeedTests : IAsyncLifetime
{
    private BackendParts _parts = null!;

    private protected abstract Task<BackendParts> CreatePartsAsync();

    public async Task InitializeAsync() => _parts = await CreatePartsAsync();

    public async Task DisposeAsync() => await _parts.DisposeAsync();

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

public sealed class SqliteEventFeedTests : EventFeedTests
{
    private protected override Task<BackendParts> CreatePartsAsync() => Task.FromResult(new BackendParts());
}

[Collection(PostgresGroup.Name)]
public sealed class PostgresEventFeedTests(PostgresServer postgres) : EventFeedTests
{
    private protected override async Task<BackendParts> CreatePartsAsync() => await BackendParts.PostgresAsync(await postgres.CreateDatabaseAsync());

    [Fact]
    public async Task TwoReplicas_AppendingToOneStream_EachFollowerOfEitherSeesEveryEventOnceInOrder()
    {
        var database = await postgres.CreateDatabaseAsync();
        await using var a = await BackendParts.PostgresAsync(database);
        await using var b = await BackendParts.PostgresAsync(database);
        const int perReplica = 150;
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));

        async Task<List<long>> FollowAsync(BackendParts replica)
        {
            var seen = new List<long>();
            await foreach (var item in replica.Feed.FollowAsync("room", 0, cts.Token))
            {
                seen.Add(item.Sequence);
                if (seen.Count == 2 * perReplica)
                {
                    break;
                }
            }

            return seen;
        }

        var onA = FollowAsync(a);
        var onB = FollowAsync(b);
        // Writers on both replicas at once: each append's commit wakes the followers of the other replica too.
        await Task.WhenAll(
            Task.Run(async () => { for (var i = 0; i < perReplica; i++) { await a.Feed.AppendAsync("room", Encoding.UTF8.GetBytes($"a{i}"), cts.Token); } }),
            Task.Run(async () => { for (var i = 0; i < perReplica; i++) { await b.Feed.AppendAsync("room", Encoding.UTF8.GetBytes($"b{i}"), cts.Token); } }));

        var expected = Enumerable.Range(1, 2 * perReplica).Select(i => (long)i).ToList();
        Assert.Equal(expected, await onA);
        Assert.Equal(expected, await onB);
        var fromB = await b.Feed.ReadAsync("room", 0, 1000, cts.Token);
        Assert.Equal(perReplica, fromB.Count(e => e.Payload.Span[0] == (byte)'a'));
    }

    [Fact]
    public async Task AppendCommittedOnOneReplica_WakesAFollowerOnTheOther_WithoutWaitingForThePoll()
    {
        var database = await postgres.CreateDatabaseAsync();
        await using var a = await BackendParts.PostgresAsync(database);
        // No poll: only the notification can wake the follower.
        await using var b = await BackendParts.PostgresAsync(database, o => o.Database.FeedPollInterval = TimeSpan.Zero);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await using var events = b.Feed.FollowAsync("orders/x", 0, cts.Token).GetAsyncEnumerator(cts.Token);
        var next = events.MoveNextAsync();

        await a.Feed.AppendAsync("orders/x", "e1"u8.ToArray(), cts.Token);

        Assert.True(await next);
        Assert.Equal(("orders/x", 1L), (events.Current.Stream, events.Current.Sequence));
    }
}
