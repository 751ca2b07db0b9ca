using System.Threading.Channels;
using CatalogTest.V1;
using EdgeBridge.Contracts;
using EdgeBridge.Streams;
using Google.Protobuf;
using Grpc.Core;
using Microsoft.Extensions.Logging.Abstractions;

namespace EdgeBridge.Tests.Streams;

/// <summary>
/// A bidirectional upstream call and its bounded queue of the client's messages, against a scripted call whose
/// request stream accepts a write only when the test lets it (HTTP/2 flow control, as the backend reads).
/// </summary>
public sealed class ClientStreamCallTests
{
    private static readonly ContractCatalog s_catalog = TestCatalog.Instance;

    private static StreamingMethod Method(string name) => TestCatalog.Method(name);

    private static FeedRequest Line(string topic) => new() { Topic = topic };

    [Fact]
    public async Task Messages_AreWrittenInOrder_EndHalfCloses_RepliesReachTheSink_AndTheEndIsOk()
    {
        var upstream = new ScriptedDuplex(flowing: true);
        var sink = new TestSink(Method("Chat"), MessageEncoding.Json);
        var call = new ClientStreamCall(sink, [], NullLogger.Instance);
        var run = call.RunAsync(upstream, s_catalog.Json, new StreamCounters());

        Assert.Equal(SendOutcome.Queued, call.Send(Line("a")));
        Assert.Equal(SendOutcome.Queued, call.Send(Line("b")));
        upstream.Reply(new FeedResponse { Sequence = 1, Text = "one" });
        await sink.Received(1);
        Assert.True(call.End());
        Assert.False(call.End());
        await upstream.HalfClosed;
        upstream.Complete();
        await run;

        Assert.Equal(["a", "b"], upstream.Written.Select(m => ((FeedRequest)m).Topic));
        Assert.Equal("""{"sequence":"1","text":"one"}""", System.Text.Encoding.UTF8.GetString(sink.Messages.Single()));
        Assert.Equal(0, (await sink.Ended).Code);
        Assert.Equal(SendOutcome.AfterEnd, call.Send(Line("late")));
    }

    [Fact]
    public async Task ClientThatOutrunsTheUpstream_EndsWithResourceExhausted_AndTheCallIsCancelled()
    {
        // Chat's send_queue_limit is 2; the upstream takes one write and then reads nothing.
        var upstream = new ScriptedDuplex(flowing: false);
        var sink = new TestSink(Method("Chat"), MessageEncoding.Json);
        var call = new ClientStreamCall(sink, [], NullLogger.Instance);
        var run = call.RunAsync(upstream, s_catalog.Json, new StreamCounters());

        Assert.Equal(SendOutcome.Queued, call.Send(Line("1")));
        await upstream.Writing;
        Assert.Equal(SendOutcome.Queued, call.Send(Line("2")));
        Assert.Equal(SendOutcome.Queued, call.Send(Line("3")));
        Assert.Equal(SendOutcome.Overflowed, call.Send(Line("4")));
        await run;

        var status = await sink.Ended;
        Assert.Equal((int)StatusCode.ResourceExhausted, status.Code);
        Assert.Contains("2 messages", status.Message);
        Assert.True(upstream.Cancelled);
        Assert.Equal(SendOutcome.Ended, call.Send(Line("5")));
    }

    [Fact]
    public async Task UpstreamFailure_EndsTheSinkWithTheStatus_UnavailableIsNotRetried()
    {
        var upstream = new ScriptedDuplex(flowing: true);
        var sink = new TestSink(Method("Chat"), MessageEncoding.Json);
        var call = new ClientStreamCall(sink, [], NullLogger.Instance);
        var run = call.RunAsync(upstream, s_catalog.Json, new StreamCounters());

        upstream.Fail(new RpcException(new Status(StatusCode.Unavailable, "replica gone")));
        await run;

        var status = await sink.Ended;
        Assert.Equal((int)StatusCode.Unavailable, status.Code);
        Assert.Equal(1, upstream.Opened);
    }

    [Fact]
    public async Task SinkThatLeaves_CancelsTheCall()
    {
        var upstream = new ScriptedDuplex(flowing: true);
        var sink = new TestSink(Method("Chat"), MessageEncoding.Json);
        var call = new ClientStreamCall(sink, [], NullLogger.Instance);
        var run = call.RunAsync(upstream, s_catalog.Json, new StreamCounters());

        sink.Cancel();
        await run;

        Assert.True(upstream.Cancelled);
        Assert.Null(sink.Terminal);
    }

    [Fact]
    public async Task ClientStreaming_TheOneResponseArrives_AfterTheClientEnds()
    {
        var upstream = new ScriptedDuplex(flowing: true);
        var sink = new TestSink(Method("Upload"), MessageEncoding.Proto);
        var call = new ClientStreamCall(sink, [], NullLogger.Instance);
        var run = call.RunAsync(upstream, s_catalog.Json, new StreamCounters());

        call.Send(Line("x"));
        call.End();
        await upstream.HalfClosed;
        upstream.Reply(new FeedResponse { Sequence = 9 });
        await run;

        Assert.Equal(new FeedResponse { Sequence = 9 }, FeedResponse.Parser.ParseFrom(sink.Messages.Single()));
        Assert.Equal(0, (await sink.Ended).Code);
    }

    /// <summary>A client-streaming or bidirectional call scripted by the test.</summary>
    private sealed class ScriptedDuplex(bool flowing) : CallInvoker
    {
        private readonly Channel<IMessage> _replies = Channel.CreateUnbounded<IMessage>();
        private readonly TaskCompletionSource _halfClosed = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _writing = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource<IMessage> _response = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly List<IMessage> _written = [];

        public bool Cancelled { get; private set; }

        public bool Flowing => flowing;

        public int Opened { get; private set; }

        public List<IMessage> Written
        {
            get
            {
                lock (_written)
                {
                    return [.. _written];
                }
            }
        }

        public Task HalfClosed => _halfClosed.Task.WaitAsync(TimeSpan.FromSeconds(30));

        /// <summary>Completes when the first write reached the call.</summary>
        public Task Writing => _writing.Task.WaitAsync(TimeSpan.FromSeconds(30));

        public void Reply(IMessage message)
        {
            _replies.Writer.TryWrite(message);
            _response.TrySetResult(message);
        }

        public void Complete() => _replies.Writer.TryComplete();

        public void Fail(RpcException error)
        {
            _replies.Writer.TryComplete(error);
            _response.TrySetException(error);
        }

        public override AsyncDuplexStreamingCall<TRequest, TResponse> AsyncDuplexStreamingCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options)
        {
            Open(options);
            return new AsyncDuplexStreamingCall<TRequest, TResponse>(new Writer<TRequest>(this, options.CancellationToken), new Reader<TResponse>(_replies.Reader),
                Task.FromResult(new Metadata()), () => Status.DefaultSuccess, () => [], () => { });
        }

        public override AsyncClientStreamingCall<TRequest, TResponse> AsyncClientStreamingCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options)
        {
            Open(options);
            return new AsyncClientStreamingCall<TRequest, TResponse>(new Writer<TRequest>(this, options.CancellationToken),
                _response.Task.ContinueWith(t => (TResponse)t.Result, TaskScheduler.Default), Task.FromResult(new Metadata()), () => Status.DefaultSuccess, () => [], () => { });
        }

        private void Open(CallOptions options)
        {
            Opened++;
            options.CancellationToken.Register(() =>
            {
                Cancelled = true;
                _replies.Writer.TryComplete(new RpcException(new Status(StatusCode.Cancelled, "cancelled")));
                _response.TrySetException(new RpcException(new Status(StatusCode.Cancelled, "cancelled")));
            });
        }

        public override AsyncServerStreamingCall<TResponse> AsyncServerStreamingCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options, TRequest request) =>
            throw new NotSupportedException();

        public override TResponse BlockingUnaryCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options, TRequest request) =>
            throw new NotSupportedException();

        public override AsyncUnaryCall<TResponse> AsyncUnaryCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options, TRequest request) =>
            throw new NotSupportedException();

        /// <summary>Takes every write when flowing; otherwise the first write never completes, as a backend that stopped reading.</summary>
        private sealed class Writer<T>(ScriptedDuplex call, CancellationToken cancellation) : IClientStreamWriter<T>
        {
            public WriteOptions? WriteOptions { get; set; }

            public Task CompleteAsync()
            {
                call._halfClosed.TrySetResult();
                return Task.CompletedTask;
            }

            public Task WriteAsync(T message) => WriteAsync(message, CancellationToken.None);

            public async Task WriteAsync(T message, CancellationToken cancellationToken)
            {
                lock (call._written)
                {
                    call._written.Add((IMessage)message!);
                }

                call._writing.TrySetResult();
                if (!call.Flowing)
                {
                    using var either = CancellationTokenSource.CreateLinkedTokenSource(cancellation, cancellationToken);
                    await Task.Delay(Timeout.Infinite, either.Token);
                }
            }
        }

        private sealed class Reader<T>(ChannelReader<IMessage> messages) : IAsyncStreamReader<T>
        {
            public T Current { get; private set; } = default!;

            public async Task<bool> MoveNext(CancellationToken cancellationToken)
            {
                try
                {
                    if (!await messages.WaitToReadAsync(cancellationToken))
                    {
                        return false;
                    }
                }
                catch (ChannelClosedException closed) when (closed.InnerException is RpcException error)
                {
                    throw error;
                }

                messages.TryRead(out var message);
                Current = (T)message!;
                return true;
            }
        }
    }
}
