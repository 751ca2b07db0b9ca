using System.Collections.Concurrent;
using EdgeBridge.Contracts;
using EdgeBridge.Upstream;
using Google.Protobuf;
using Grpc.Core;

namespace EdgeBridge.Subscriptions;

/// <summary>
/// Starts upstream calls for subscriptions. Identical subscriptions of a shared method join one running call;
/// per-caller methods always get their own call with the caller's credentials.
/// </summary>
internal sealed class UpstreamStreams(UpstreamChannels channels, ContractCatalog catalog)
{
    private readonly ConcurrentDictionary<string, UpstreamStream> _shared = new(StringComparer.Ordinal);
    private long _callsStarted;

    /// <summary>Upstream calls started since the edge started.</summary>
    public long CallsStarted => Interlocked.Read(ref _callsStarted);

    /// <summary>Shared upstream calls running now.</summary>
    public int SharedCount => _shared.Count;

    public void Subscribe(Subscription subscription, IMessage request, string? token)
    {
        var method = subscription.Method;
        if (!method.Policy.Shared)
        {
            var headers = new Metadata();
            if (token is not null && method.Policy.ForwardsToken)
            {
                headers.Add("authorization", "Bearer " + token);
            }

            Start(new UpstreamStream(method, request, headers, sharingKey: null, onClosed: null), subscription);
            return;
        }

        // Shared calls carry no caller's credentials: their messages go to every subscriber alike.
        var key = method.FullName + "\n" + catalog.Json.Formatter.Format(request);
        while (true)
        {
            if (_shared.TryGetValue(key, out var running))
            {
                if (running.TryAdd(subscription))
                {
                    return;
                }

                // Closing: make room for a new call.
                _shared.TryRemove(new KeyValuePair<string, UpstreamStream>(key, running));
                continue;
            }

            var stream = new UpstreamStream(method, request, [], key, Forget);
            if (_shared.TryAdd(key, stream))
            {
                Start(stream, subscription);
                return;
            }
        }
    }

    private void Start(UpstreamStream stream, Subscription first)
    {
        stream.TryAdd(first);
        CallInvoker invoker;
        try
        {
            invoker = channels.Next().CreateCallInvoker();
        }
        catch (RpcException ex)
        {
            Forget(stream);
            first.End(WebSockets.ServerFrames.Error(first.Id, ex.StatusCode, ex.Status.Detail));
            return;
        }

        Interlocked.Increment(ref _callsStarted);
        _ = Task.Run(() => stream.RunAsync(invoker, catalog.Json));
    }

    private void Forget(UpstreamStream stream)
    {
        if (stream.SharingKey is { } key)
        {
            _shared.TryRemove(new KeyValuePair<string, UpstreamStream>(key, stream));
        }
    }
}
