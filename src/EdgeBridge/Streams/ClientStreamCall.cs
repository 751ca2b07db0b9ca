using System.Diagnostics;
using System.Threading.Channels;
using EdgeBridge.Contracts;
using EdgeBridge.Diagnostics;
using Google.Protobuf;
using Grpc.Core;
using Microsoft.Extensions.Logging;

namespace EdgeBridge.Streams;

/// <summary>The upstream call a sink reads from, as the sink sees it.</summary>
internal interface IUpstreamCall
{
    /// <summary>The sink leaves; the call is cancelled when it was the last one.</summary>
    void Remove(StreamSink sink);

    /// <summary>The caller refreshed its token: a call re-opened later carries the new one.</summary>
    void Reauthorize(string token);

    /// <summary>The method the call serves, as the catalog it was started from describes it.</summary>
    StreamingMethod Method { get; }

    /// <summary>The edge no longer serves the call as it was started (a contract reload): every sink ends with <paramref name="status"/>.</summary>
    void Withdraw(Google.Rpc.Status status);
}

/// <summary>What became of a message the client sent on a client-streaming or bidirectional stream.</summary>
internal enum SendOutcome
{
    /// <summary>Queued for the upstream call.</summary>
    Queued,

    /// <summary>The queue was full: the stream was ended with RESOURCE_EXHAUSTED.</summary>
    Overflowed,

    /// <summary>The client had already half-closed the stream.</summary>
    AfterEnd,

    /// <summary>The stream is over; the message goes nowhere.</summary>
    Ended,
}

/// <summary>
/// A client-streaming or bidirectional upstream call and its one sink. The client's messages wait in a bounded
/// queue and are written upstream at the pace HTTP/2 flow control allows, so a backend that reads slowly holds
/// back only its own stream; a client that runs more than <see cref="StreamingMethod.SendQueueLimit"/> messages
/// ahead ends the stream with RESOURCE_EXHAUSTED rather than growing the queue or stalling the socket's reader.
/// The call is never re-opened on another replica: what was written cannot be replayed, so UNAVAILABLE ends it.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Reliability", "CA1001", Justification = "CancellationTokenSource without a timer.")]
internal sealed partial class ClientStreamCall : IUpstreamCall
{
    private readonly StreamSink _sink;
    private readonly Metadata _headers;
    private readonly Channel<IMessage> _outbound;
    private readonly CancellationTokenSource _cancellation = new();
    private readonly ILogger _logger;
    private Activity? _activity;
    private int _halfClosed;

    public ClientStreamCall(StreamSink sink, Metadata headers, ILogger logger)
    {
        Debug.Assert(sink.Method.ClientSends, "Only client-streaming and bidirectional methods take client messages.");
        _sink = sink;
        _headers = headers;
        _logger = logger;
        _outbound = Channel.CreateBounded<IMessage>(new BoundedChannelOptions(sink.Method.SendQueueLimit)
        {
            SingleReader = true,
            SingleWriter = true,
        });
        sink.Upstream = this;
    }

    public StreamingMethod Method => _sink.Method;

    /// <summary>What the call is charged to against the upstream-call caps; given back when the call ends.</summary>
    public UpstreamCallBudget.Charge? Charge { get; set; }

    /// <summary>Queues one of the client's messages for the upstream call; never waits.</summary>
    public SendOutcome Send(IMessage message)
    {
        if (Volatile.Read(ref _halfClosed) != 0)
        {
            return SendOutcome.AfterEnd;
        }

        if (_outbound.Writer.TryWrite(message))
        {
            return SendOutcome.Queued;
        }

        if (_cancellation.IsCancellationRequested)
        {
            return SendOutcome.Ended;
        }

        _sink.End(StatusCode.ResourceExhausted,
            $"More than {Method.SendQueueLimit} messages were sent ahead of the upstream call and the stream was ended; send at the pace the replies come back.");
        return SendOutcome.Overflowed;
    }

    /// <summary>Half-closes the stream after the queued messages; false when it was already half-closed.</summary>
    public bool End()
    {
        if (Interlocked.Exchange(ref _halfClosed, 1) != 0)
        {
            return false;
        }

        _outbound.Writer.TryComplete();
        return true;
    }

    /// <summary>Whether the call is over (or being cancelled): nothing more goes upstream.</summary>
    public bool Ended => _cancellation.IsCancellationRequested;

    /// <summary>Whether the client half-closed the stream.</summary>
    public bool HalfClosed => Volatile.Read(ref _halfClosed) != 0;

    public void Remove(StreamSink sink)
    {
        _outbound.Writer.TryComplete();
        _cancellation.Cancel();
    }

    // Ending the one sink removes it, which cancels the call.
    public void Withdraw(Google.Rpc.Status status) => _sink.End(status);

    // Nothing to do: a client stream is never re-opened, and the running call keeps the token it was opened with.
    public void Reauthorize(string token)
    {
    }

    public void Trace(Activity? activity) => _activity = activity;

    public async Task RunAsync(CallInvoker invoker, ProtoJson json, StreamCounters counters)
    {
        var token = _cancellation.Token;
        Activity.Current = _activity;
        var outcome = StatusCode.OK;
        string? failure = null;
        using var writing = CancellationTokenSource.CreateLinkedTokenSource(token);
        Task? writer = null;
        try
        {
            var options = new CallOptions(_headers, cancellationToken: token);
            if (Method.Kind == StreamKind.Bidirectional)
            {
                using var call = invoker.AsyncDuplexStreamingCall(Method.GrpcMethod, null, options);
                writer = WriteAsync(call.RequestStream, writing.Token);
                while (await call.ResponseStream.MoveNext(token))
                {
                    Deliver(call.ResponseStream.Current, json, counters);
                }

                await StopWriting(writing, writer);
            }
            else
            {
                using var call = invoker.AsyncClientStreamingCall(Method.GrpcMethod, null, options);
                writer = WriteAsync(call.RequestStream, writing.Token);
                var response = await call.ResponseAsync;
                await StopWriting(writing, writer);
                Deliver(response, json, counters);
            }

            _sink.End(new Google.Rpc.Status());
        }
        catch (Exception ex) when (token.IsCancellationRequested && ex is RpcException or OperationCanceledException)
        {
            // The sink left (unsubscribed, overflowed, the socket closed): nobody to tell.
            outcome = StatusCode.Cancelled;
        }
        catch (RpcException ex)
        {
            (outcome, failure) = (ex.StatusCode, ex.Status.Detail);
            Log.CallFailed(_logger, Method.FullName, ex.StatusCode);
            _sink.End(RpcStatuses.FromException(ex));
        }
        catch (Exception ex)
        {
            (outcome, failure) = (StatusCode.Internal, ex.GetType().Name);
            Log.CallBroke(_logger, Method.FullName, ex);
            _sink.End(new Google.Rpc.Status { Code = (int)StatusCode.Internal, Message = "The upstream call failed: " + ex.GetType().Name });
        }
        finally
        {
            // Over: later sends are answered as ended, not as an overflow.
            await _cancellation.CancelAsync();
            _outbound.Writer.TryComplete();
            if (writer is not null)
            {
                await StopWriting(writing, writer);
            }

            if (Interlocked.Exchange(ref _activity, null) is { } activity)
            {
                EdgeBridgeActivities.SetStatus(activity, outcome, failure);
                activity.Stop();
            }
        }
    }

    private void Deliver(IMessage message, ProtoJson json, StreamCounters counters)
    {
        counters.MessageRead();
        var delivery = _sink.Deliver(_sink.Encoding == MessageEncoding.Proto ? message.ToByteArray() : json.FormatUtf8(message));
        if (delivery != Delivery.Queued)
        {
            counters.Count(delivery);
        }
    }

    // The backend answered (or ended the call) before the client half-closed: what is still queued has nowhere to go.
    private static async Task StopWriting(CancellationTokenSource writing, Task writer)
    {
        await writing.CancelAsync();
        await writer;
    }

    /// <summary>Writes the client's messages in order, then half-closes the call once the client did.</summary>
    private async Task WriteAsync(IClientStreamWriter<IMessage> writer, CancellationToken token)
    {
        try
        {
            await foreach (var message in _outbound.Reader.ReadAllAsync(token))
            {
                // Waits for HTTP/2 flow control: a backend that reads slowly fills the queue, not the edge's memory.
                await writer.WriteAsync(message, token);
            }

            if (HalfClosed)
            {
                await writer.CompleteAsync();
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or RpcException or InvalidOperationException)
        {
            // The call ended or was cancelled: the reader reports how.
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 4, EventName = "UpstreamClientStreamFailed", Level = LogLevel.Debug, Message = "The upstream client stream {Method} ended with {StatusCode}.")]
        public static partial void CallFailed(ILogger logger, string method, StatusCode statusCode);

        [LoggerMessage(EventId = 5, EventName = "UpstreamClientStreamBroke", Level = LogLevel.Error, Message = "The upstream client stream {Method} failed unexpectedly.")]
        public static partial void CallBroke(ILogger logger, string method, Exception exception);
    }
}
