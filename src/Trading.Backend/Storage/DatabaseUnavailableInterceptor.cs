using System.Data.Common;
using Grpc.Core;
using Grpc.Core.Interceptors;

namespace Trading.Backend.Storage;

/// <summary>
/// Answers UNAVAILABLE — REST 503 through transcoding — while the database is not ready or cannot be reached,
/// instead of UNKNOWN / 500: the call did not happen, and a client (or the edge, for a stream with a cursor)
/// retries elsewhere or later.
/// </summary>
internal sealed class DatabaseUnavailableInterceptor(Database database) : Interceptor
{
    public override async Task<TResponse> UnaryServerHandler<TRequest, TResponse>(
        TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        ThrowIfNotReady();
        try
        {
            return await continuation(request, context);
        }
        catch (DbException ex) when (Database.IsUnavailable(ex))
        {
            throw Unavailable(ex);
        }
    }

    public override async Task ServerStreamingServerHandler<TRequest, TResponse>(
        TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        ThrowIfNotReady();
        try
        {
            await continuation(request, responseStream, context);
        }
        catch (DbException ex) when (Database.IsUnavailable(ex))
        {
            throw Unavailable(ex);
        }
    }

    private void ThrowIfNotReady()
    {
        if (!database.IsReady)
        {
            throw new RpcException(new Status(StatusCode.Unavailable, "The backend's database is not ready yet; retry shortly."));
        }
    }

    private static RpcException Unavailable(DbException ex) =>
        new(new Status(StatusCode.Unavailable, "The backend's database is unavailable; retry shortly.", ex));
}
