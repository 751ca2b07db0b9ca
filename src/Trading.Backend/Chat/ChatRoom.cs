using System.Text.RegularExpressions;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Chat.V1;
using Trading.Backend.Feed;

namespace Trading.Backend.Chat;

/// <summary>Chat rooms kept as event-feed streams; a message's sequence is its position in the room's stream.</summary>
internal sealed partial class ChatRooms(IEventFeed feed)
{
    public const int MaxTextLength = 2000;
    public const int DefaultPageSize = 50;
    public const int MaxPageSize = 500;

    public static string StreamOf(string room) => "chat/" + room;

    public static void ValidateRoom(string room)
    {
        if (!RoomName().IsMatch(room))
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, "room must be 1 to 64 letters, digits, '-' or '_'."));
        }
    }

    public async Task<ChatMessage> PostAsync(string room, string author, string text, CancellationToken cancellationToken)
    {
        ValidateRoom(room);
        text = text.Trim();
        if (text.Length is 0 or > MaxTextLength)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, $"text must have 1 to {MaxTextLength} characters after trimming."));
        }

        // The stored payload has no sequence: the feed assigns it, and readers copy it in.
        var message = new ChatMessage { Room = room, Author = author, Text = text };
        var appended = await feed.AppendAsync(StreamOf(room), message.ToByteArray(), cancellationToken);
        return ToMessage(appended);
    }

    public async Task<(IReadOnlyList<ChatMessage> Messages, bool HasMore)> ListAsync(string room, long afterSequence, int pageSize, CancellationToken cancellationToken)
    {
        ValidateRoom(room);
        if (pageSize < 0 || afterSequence < 0)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, "page_size and after_sequence must not be negative."));
        }

        var size = pageSize == 0 ? DefaultPageSize : Math.Min(pageSize, MaxPageSize);
        var events = await feed.ReadAsync(StreamOf(room), afterSequence, size + 1, cancellationToken);
        return (events.Take(size).Select(ToMessage).ToList(), events.Count > size);
    }

    public async IAsyncEnumerable<ChatMessage> FollowAsync(string room, long afterSequence, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ValidateRoom(room);
        await foreach (var item in feed.FollowAsync(StreamOf(room), Math.Max(0, afterSequence), cancellationToken))
        {
            yield return ToMessage(item);
        }
    }

    private static ChatMessage ToMessage(FeedEvent item)
    {
        var message = ChatMessage.Parser.ParseFrom(item.Payload.Span);
        message.Sequence = item.Sequence;
        message.CreateTime = Timestamp.FromDateTimeOffset(item.Time);
        return message;
    }

    [GeneratedRegex("^[A-Za-z0-9_-]{1,64}$")]
    private static partial Regex RoomName();
}
