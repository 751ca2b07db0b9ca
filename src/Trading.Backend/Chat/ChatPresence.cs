using System.Threading.Channels;
using Chat.V1;

namespace Trading.Backend.Chat;

/// <summary>
/// Who is typing in which room, passed between the conversations of this replica. Typing indicators are
/// ephemeral: they are not stored, and a listener that falls behind loses the oldest (only the latest state of a
/// user matters). Conversations on other replicas do not see them; messages, which are stored, reach everyone.
/// </summary>
internal sealed class ChatPresence
{
    /// <summary>Indicators that may wait for one conversation; older ones are dropped.</summary>
    public const int ListenerCapacity = 64;

    private readonly Lock _lock = new();
    private readonly Dictionary<string, HashSet<Listener>> _rooms = new(StringComparer.Ordinal);

    /// <summary>Listens to a room's indicators until disposed; the caller's own are not delivered to it.</summary>
    public Listener Listen(string room, string user)
    {
        var listener = new Listener(this, room, user);
        lock (_lock)
        {
            if (!_rooms.TryGetValue(room, out var listeners))
            {
                _rooms[room] = listeners = [];
            }

            listeners.Add(listener);
        }

        return listener;
    }

    public void Publish(string room, string user, bool active)
    {
        Listener[] listeners;
        lock (_lock)
        {
            if (!_rooms.TryGetValue(room, out var set))
            {
                return;
            }

            listeners = [.. set];
        }

        var indicator = new TypingIndicator { Room = room, User = user, Active = active };
        foreach (var listener in listeners)
        {
            if (!string.Equals(listener.User, user, StringComparison.Ordinal))
            {
                listener.Channel.Writer.TryWrite(indicator);
            }
        }
    }

    private void Leave(Listener listener)
    {
        lock (_lock)
        {
            if (_rooms.TryGetValue(listener.Room, out var listeners) && listeners.Remove(listener) && listeners.Count == 0)
            {
                _rooms.Remove(listener.Room);
            }
        }
    }

    internal sealed class Listener(ChatPresence presence, string room, string user) : IDisposable
    {
        public string Room { get; } = room;

        public string User { get; } = user;

        public Channel<TypingIndicator> Channel { get; } = System.Threading.Channels.Channel.CreateBounded<TypingIndicator>(
            new BoundedChannelOptions(ListenerCapacity) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true });

        public void Dispose()
        {
            presence.Leave(this);
            Channel.Writer.TryComplete();
        }
    }
}
