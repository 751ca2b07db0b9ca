using Trading.Backend.Chat;

namespace Trading.Backend.Tests.Chat;

/// <summary>Typing indicators between the conversations of one replica.</summary>
public sealed class ChatPresenceTests
{
    [Fact]
    public void Indicator_ReachesTheRoomsOthers_NotItsAuthor_NorOtherRooms()
    {
        var presence = new ChatPresence();
        using var alice = presence.Listen("lobby", "alice");
        using var bob = presence.Listen("lobby", "bob");
        using var carol = presence.Listen("elsewhere", "carol");

        presence.Publish("lobby", "alice", active: true);

        Assert.True(bob.Channel.Reader.TryRead(out var indicator));
        Assert.Equal(("lobby", "alice", true), (indicator.Room, indicator.User, indicator.Active));
        Assert.False(alice.Channel.Reader.TryRead(out _));
        Assert.False(carol.Channel.Reader.TryRead(out _));
    }

    [Fact]
    public void SlowListener_KeepsTheLatestIndicators_NeverMoreThanItsCapacity()
    {
        var presence = new ChatPresence();
        using var bob = presence.Listen("lobby", "bob");

        for (var i = 0; i < ChatPresence.ListenerCapacity * 3; i++)
        {
            presence.Publish("lobby", "alice", active: i % 2 == 0);
        }

        Assert.Equal(ChatPresence.ListenerCapacity, bob.Channel.Reader.Count);
        var last = default(global::Chat.V1.TypingIndicator);
        while (bob.Channel.Reader.TryRead(out var indicator))
        {
            last = indicator;
        }

        Assert.False(last!.Active);
    }

    [Fact]
    public void ListenerThatLeft_GetsNothingMore_AndTheRoomIsForgotten()
    {
        var presence = new ChatPresence();
        var bob = presence.Listen("lobby", "bob");
        bob.Dispose();

        presence.Publish("lobby", "alice", active: true);

        Assert.False(bob.Channel.Reader.TryRead(out _));
        Assert.True(bob.Channel.Reader.Completion.IsCompleted);
    }
}
