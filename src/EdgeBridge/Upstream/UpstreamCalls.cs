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
    public async Task<(IMessage? Response, Google.Rpc.Status? Error)> CallAsync(SocketCallMethod method, IMessage request, string? token, CancellationToken cancellationToken)
    {
        try
        {
            var invoker = channels.Next();
            var headers = token is null ? [] : new Metadata { { "authorization", "Bearer " + token } };
            var options = new CallOptions(headers, time.GetUtcNow().UtcDateTime + method.Timeout, cancellationToken);
            return (await invoker.AsyncUnaryCall(method.GrpcMethod, null, options, request), null);
        }
        catch (RpcException ex)
        {
            return (null, StatusOf(ex));
        }
    }

    private static Google.Rpc.Status StatusOf(RpcException ex)
    {
        if (ex.Trailers.GetValueBytes("grpc-status-details-bin") is { } details)
        {
            try
            {
                var status = Google.Rpc.Status.Parser.ParseFrom(details);
                if (status.Code == (int)ex.StatusCode)
                {
                    return status;
                }
            }
            catch (InvalidProtocolBufferException)
            {
                // A backend's malformed details: the code and message still stand.
            }
        }

        return new Google.Rpc.Status { Code = (int)ex.StatusCode, Message = ex.Status.Detail };
    }
}
