using Chat.V1;
using Grpc.Core;
using Trading.Backend.Hosting;
using Trading.Backend.Identity;

namespace Trading.Backend.Chat;

internal sealed class ChatGrpcService(ChatRooms rooms, TokenService tokens, StreamLifetime lifetime) : ChatService.ChatServiceBase
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
}
