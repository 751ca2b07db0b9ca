using Chat.V1;
using Grpc.Core;
using Trading.Backend.Hosting;
using Trading.Backend.Identity;

namespace Trading.Backend.Chat;

internal sealed class ChatGrpcService(ChatRooms rooms, ChatPresence presence, TokenService tokens, StreamLifetime lifetime) : ChatService.ChatServiceBase
{
    public override async Task<PostMessageResponse> PostMessage(PostMessageRequest request, ServerCallContext context)
    {
        var caller = await tokens.AuthenticateAsync(context);
        var message = await rooms.PostAsync(request.Room, caller.Username, request.Text, context.CancellationToken);
        return new PostMessageResponse { Message = message };
    }

    public override async Task<ListMessagesResponse> ListMessages(ListMessagesRequest request, ServerCallContext context)
    {
        var (messages, hasMore) = await rooms.ListAsync(request.Room, request.AfterSequence, request.PageSize, context.CancellationToken);
        return new ListMessagesResponse { Messages = { messages }, HasMore = hasMore };
    }

    public override async Task StreamRoom(StreamRoomRequest request, IServerStreamWriter<StreamRoomResponse> responseStream, ServerCallContext context)
    {
        ChatRooms.ValidateRoom(request.Room);
        await lifetime.RunAsync(context, async cancellationToken =>
        {
            await foreach (var message in rooms.FollowAsync(request.Room, request.AfterSequence, cancellationToken))
            {
                await responseStream.WriteAsync(new StreamRoomResponse { Message = message }, cancellationToken);
            }
        });
    }

    public override async Task Converse(IAsyncStreamReader<ConverseRequest> requestStream, IServerStreamWriter<ConverseResponse> responseStream, ServerCallContext context)
    {
        var caller = await tokens.AuthenticateAsync(context);
        await lifetime.RunAsync(context, async cancellationToken =>
        {
            if (!await requestStream.MoveNext(cancellationToken))
            {
                return;
            }

            if (requestStream.Current.EventCase != ConverseRequest.EventOneofCase.Join)
            {
                throw new RpcException(new Status(StatusCode.InvalidArgument, "The first message of a conversation must be join."));
            }

            var join = requestStream.Current.Join;
            ChatRooms.ValidateRoom(join.Room);
            if (join.AfterSequence < 0)
            {
                throw new RpcException(new Status(StatusCode.InvalidArgument, "join.after_sequence must not be negative."));
            }

            using var typing = presence.Listen(join.Room, caller.Username);
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            using var writes = new SemaphoreSlim(1, 1);

            // The room's messages and the others' typing arrive concurrently; a response stream takes one write at a time.
            async Task WriteAsync(ConverseResponse response)
            {
                await writes.WaitAsync(stop.Token);
                try
                {
                    await responseStream.WriteAsync(response, stop.Token);
                }
                finally
                {
                    writes.Release();
                }
            }

            var messages = Task.Run(async () =>
            {
                await foreach (var message in rooms.FollowAsync(join.Room, join.AfterSequence, stop.Token))
                {
                    await WriteAsync(new ConverseResponse { Message = message });
                }
            }, stop.Token);
            var indicators = Task.Run(async () =>
            {
                await foreach (var indicator in typing.Channel.Reader.ReadAllAsync(stop.Token))
                {
                    await WriteAsync(new ConverseResponse { Typing = indicator });
                }
            }, stop.Token);
            var reading = ReadAsync(requestStream, join.Room, caller.Username, stop.Token);

            // Whichever ends first decides: the client half-closing ends the conversation with OK, a failure with its status.
            var first = await Task.WhenAny(reading, messages, indicators);
            await stop.CancelAsync();
            var all = Task.WhenAll(reading, messages, indicators);
            await all.ContinueWith(static task => _ = task.Exception, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            await first;
        });
    }

    private async Task ReadAsync(IAsyncStreamReader<ConverseRequest> requestStream, string room, string user, CancellationToken cancellationToken)
    {
        var typing = false;
        try
        {
            while (await requestStream.MoveNext(cancellationToken))
            {
                var request = requestStream.Current;
                switch (request.EventCase)
                {
                    case ConverseRequest.EventOneofCase.Text:
                        await rooms.PostAsync(room, user, request.Text, cancellationToken);
                        break;
                    case ConverseRequest.EventOneofCase.Typing when request.Typing != typing:
                        typing = request.Typing;
                        presence.Publish(room, user, typing);
                        break;
                    case ConverseRequest.EventOneofCase.Typing:
                        break;
                    case ConverseRequest.EventOneofCase.Join:
                        throw new RpcException(new Status(StatusCode.InvalidArgument, "The conversation has already joined a room; open another to join another."));
                    default:
                        throw new RpcException(new Status(StatusCode.InvalidArgument, "A conversation message needs one of join, text or typing."));
                }
            }
        }
        finally
        {
            // Nobody keeps typing after they left.
            if (typing)
            {
                presence.Publish(room, user, false);
            }
        }
    }
}
