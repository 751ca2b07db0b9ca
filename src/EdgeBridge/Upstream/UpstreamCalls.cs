using EdgeBridge.Contracts;
using Google.Protobuf;
using Grpc.Core;

namespace EdgeBridge.Upstream;

/// <summary>
/// Unary calls to the backend on behalf of a socket's client (<c>call</c> frames): over the same channels as the
/// subscriptions, with the caller's token and the method's deadline. The answer is the response, or the
/// google.rpc.Status the backend ended the call with — its details included, as REST would carry them.
/// </summary>
internal sealed class UpstreamCalls(UpstreamChannels channels, TimeProvider time)
{
    public Task<(IMessage? Response, Google.Rpc.Status? Error)> CallAsync(SocketCallMethod method, IMessage request, string? token, CancellationToken cancellationToken) =>
        CallAsync(method.GrpcMethod, request, token, time.GetUtcNow().UtcDateTime + method.Timeout, cancellationToken);

    /// <summary>One unary call of <paramref name="method"/> with the caller's token, ending by <paramref name="deadline"/> (UTC).</summary>
    public async Task<(IMessage? Response, Google.Rpc.Status? Error)> CallAsync(Method<IMessage, IMessage> method, IMessage request, string? token, DateTime deadline, CancellationToken cancellationToken)
    {
        try
        {
            var invoker = channels.Next();
            var headers = token is null ? [] : new Metadata { { "authorization", "Bearer " + token } };
            return (await invoker.AsyncUnaryCall(method, null, new CallOptions(headers, deadline, cancellationToken), request), null);
        }
        catch (RpcException ex)
        {
            return (null, Streams.RpcStatuses.FromException(ex));
        }
    }
}
