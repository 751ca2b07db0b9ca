using System.Collections.Immutable;
using EdgeBridge.Contracts;
using EdgeBridge.WebSockets;
using Google.Protobuf;
using Grpc.Core;

namespace EdgeBridge.Subscriptions;

/// <summary>
/// One upstream server-streaming call and the subscriptions it feeds. Each message is formatted to JSON once
/// and the same bytes are queued for every subscriber; the read loop never waits for a subscriber. The call is
/// cancelled as soon as its last subscriber leaves.
/// </summary>
// The cancellation source has no timer, so it needs no disposal; disposing it would race with late Remove calls.
[System.Diagnostics.CodeAnalysis.SuppressMessage("Reliability", "CA1001", Justification = "CancellationTokenSource without a timer.")]
internal sealed class UpstreamStream
{
    private readonly Lock _lock = new();
    private readonly CancellationTokenSource _cancellation = new();
    private readonly Action<UpstreamStream>? _onClosed;
    private ImmutableArray<Subscription> _subscribers = [];
    private bool _closed;

    public UpstreamStream(StreamingMethod method, IMessage request, Metadata headers, string? sharingKey, Action<UpstreamStream>? onClosed)
    {
        Method = method;
        Request = request;
        Headers = headers;
        SharingKey = sharingKey;
        _onClosed = onClosed;
    }

    public StreamingMethod Method { get; }

    public IMessage Request { get; }

    public Metadata Headers { get; }

    /// <summary>Identifies identical subscriptions of a shared method; null for per-caller calls.</summary>
    public string? SharingKey { get; }

    public int SubscriberCount => _subscribers.Length;

    /// <summary>Adds a subscriber; false once the stream is closing (the caller then starts a new one).</summary>
    public bool TryAdd(Subscription subscription)
    {
        lock (_lock)
        {
            if (_closed)
            {
                return false;
            }

            _subscribers = _subscribers.Add(subscription);
            subscription.Upstream = this;
            return true;
        }
    }

    public void Remove(Subscription subscription)
    {
        lock (_lock)
        {
            _subscribers = _subscribers.Remove(subscription);
            if (_subscribers.Length > 0 || _closed)
            {
                return;
            }

            _closed = true;
        }

        _onClosed?.Invoke(this);
        _cancellation.Cancel();
    }

    public async Task RunAsync(CallInvoker invoker, ProtoJson json, UpstreamStreams owner)
    {
        var token = _cancellation.Token;
        try
        {
            using var call = invoker.AsyncServerStreamingCall(Method.GrpcMethod, null, new CallOptions(Headers, cancellationToken: token), Request);
            while (await call.ResponseStream.MoveNext(token))
            {
                var bytes = json.FormatUtf8(call.ResponseStream.Current);
                owner.MessageRead();
                foreach (var subscriber in _subscribers)
                {
                    var delivery = subscriber.Deliver(bytes);
                    if (delivery != Delivery.Queued)
                    {
                        owner.Count(delivery);
                    }
                }
            }

            EndAll(static id => ServerFrames.Complete(id));
        }
        catch (RpcException) when (token.IsCancellationRequested)
        {
            // Cancelled because nobody listens any more: nobody to tell.
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
        }
        catch (RpcException ex)
        {
            var status = ServerFrames.StatusOf(ex);
            EndAll(id => ServerFrames.Error(id, status, json));
        }
        catch (Exception ex)
        {
            EndAll(id => ServerFrames.Error(id, StatusCode.Internal, "The upstream call failed: " + ex.GetType().Name));
        }
        finally
        {
            lock (_lock)
            {
                _closed = true;
            }

            _onClosed?.Invoke(this);
        }
    }

    private void EndAll(Func<string, byte[]> frame)
    {
        ImmutableArray<Subscription> subscribers;
        lock (_lock)
        {
            _closed = true;
            subscribers = _subscribers;
            _subscribers = [];
        }

        foreach (var subscriber in subscribers)
        {
            subscriber.End(frame(subscriber.Id));
        }
    }
}
