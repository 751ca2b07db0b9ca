using Google.Protobuf;
using Grpc.Core;

namespace EdgeBridge.Streams;

/// <summary>The google.rpc.Status a failed upstream call ended with, as every transport reports it.</summary>
internal static class RpcStatuses
{
    /// <summary>The status of <paramref name="exception"/>, with the backend's details when it sent any.</summary>
    public static Google.Rpc.Status FromException(RpcException exception)
    {
        var bytes = exception.Trailers.GetValueBytes("grpc-status-details-bin");
        if (bytes is not null)
        {
            try
            {
                var status = Google.Rpc.Status.Parser.ParseFrom(bytes);
                status.Code = (int)exception.StatusCode;
                return status;
            }
            catch (InvalidProtocolBufferException)
            {
                // Fall through to the plain status: a garbled trailer must not hide the error itself.
            }
        }

        return new Google.Rpc.Status { Code = (int)exception.StatusCode, Message = exception.Status.Detail };
    }
}
