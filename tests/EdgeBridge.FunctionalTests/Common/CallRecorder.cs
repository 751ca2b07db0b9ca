using System.Collections.Concurrent;
using Grpc.Core;
using Grpc.Core.Interceptors;

namespace EdgeBridge.FunctionalTests.Common;

/// <summary>
/// Watches the backend's server-streaming and bidirectional calls from the inside: how many started per method, how many are
/// running, and whether each ended because its caller cancelled it.
/// </summary>
public sealed class CallRecorder : Interceptor
{
    private readonly ConcurrentDictionary<string, int> _started = new();
    private readonly ConcurrentDictionary<string, int> _active = new();
    private readonly ConcurrentDictionary<string, int> _cancelled = new();

    public int Started(string method) => _started.GetValueOrDefault(Path(method));

    public int Active(string method) => _active.GetValueOrDefault(Path(method));

    public int Cancelled(string method) => _cancelled.GetValueOrDefault(Path(method));

    /// <summary>Unary calls the backend served, with the request headers it saw.</summary>
    public ConcurrentQueue<(string Method, Metadata Headers)> UnaryCalls { get; } = new();

    public int UnaryCount(string method) => UnaryCalls.Count(c => c.Method == Path(method));

    /// <summary>Server-streaming calls the backend was opened, with the request headers it saw.</summary>
    public ConcurrentQueue<(string Method, Metadata Headers)> StreamCalls { get; } = new();

    public override Task<TResponse> UnaryServerHandler<TRequest, TResponse>(TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        UnaryCalls.Enqueue((context.Method, context.RequestHeaders));
        return continuation(request, context);
    }

    public override Task ServerStreamingServerHandler<TRequest, TResponse>(
        TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, ServerStreamingServerMethod<TRequest, TResponse> continuation) =>
        TrackAsync(context, () => continuation(request, responseStream, context));

    public override Task DuplexStreamingServerHandler<TRequest, TResponse>(
        IAsyncStreamReader<TRequest> requestStream, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, DuplexStreamingServerMethod<TRequest, TResponse> continuation) =>
        TrackAsync(context, () => continuation(requestStream, responseStream, context));

    private async Task TrackAsync(ServerCallContext context, Func<Task> call)
    {
        StreamCalls.Enqueue((context.Method, context.RequestHeaders));
        _started.AddOrUpdate(context.Method, 1, (_, n) => n + 1);
        _active.AddOrUpdate(context.Method, 1, (_, n) => n + 1);
        try
        {
            await call();
        }
        finally
        {
            if (context.CancellationToken.IsCancellationRequested)
            {
                _cancelled.AddOrUpdate(context.Method, 1, (_, n) => n + 1);
            }

            _active.AddOrUpdate(context.Method, 0, (_, n) => n - 1);
        }
    }

    private static string Path(string method) => method.StartsWith('/') ? method : "/" + method;
}
