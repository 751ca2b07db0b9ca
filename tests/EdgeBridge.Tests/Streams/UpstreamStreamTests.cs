using System.Threading.Channels;
using CatalogTest.V1;
using EdgeBridge.Contracts;
using EdgeBridge.Streams;
using Google.Protobuf;
using Grpc.Core;
using Microsoft.Extensions.Logging.Abstractions;

namespace EdgeBridge.Tests.Streams;

/// <summary>The fan-out of one upstream call to its sinks, with a scripted call in place of a backend.</summary>
public sealed class UpstreamStreamTests
{
    private static readonly ContractCatalog s_catalog = TestCatalog.Instance;

    private static StreamingMethod Method(string name) => TestCatalog.Method(name);

    private static UpstreamStream Stream(string method = "SharedFeed") =>
        new(Method(method), new FeedRequest { Topic = "t" }, [], sharingKey: "k", onClosed: null, NullLogger<UpstreamStream>.Instance);

    [Fact]
    public async Task EachMessage_IsEncodedOncePerEncoding_AndEverySinkOfThatEncodingGetsTheSameBytes()
    {
        var call = new ScriptedCall();
        var stream = Stream();
        var sinks = new[] { new TestSink(Method("SharedFeed"), MessageEncoding.Json), new TestSink(Method("SharedFeed"), MessageEncoding.Json),
            new TestSink(Method("SharedFeed"), MessageEncoding.Proto), new TestSink(Method("SharedFeed"), MessageEncoding.Proto) };
        foreach (var sink in sinks)
        {
            Assert.True(stream.TryAdd(sink));
        }

        var run = stream.RunAsync(call, s_catalog.Json, new StreamCounters());
        call.Send(new FeedResponse { Sequence = 7, Text = "hi" });
        call.Complete();
        await run;

        var json = sinks[0].Messages.Single();
        var proto = sinks[2].Messages.Single();
        Assert.Same(json, sinks[1].Messages.Single());
        Assert.Same(proto, sinks[3].Messages.Single());
        Assert.Equal("""{"sequence":"7","text":"hi"}""", System.Text.Encoding.UTF8.GetString(json));
        Assert.Equal(new FeedResponse { Sequence = 7, Text = "hi" }, FeedResponse.Parser.ParseFrom(proto));
        Assert.All(sinks, sink => Assert.Equal(0, sink.Terminal!.Code));
    }

    [Fact]
    public async Task SlowSink_DropsItsOldest_WhileTheOthersGetEverything_AndTheReaderNeverWaits()
    {
        var call = new ScriptedCall();
        var stream = Stream();
        var fast = new TestSink(Method("SharedFeed"), MessageEncoding.Json, drains: true);
        var slow = new TestSink(Method("SharedFeed"), MessageEncoding.Json, drains: false);
        stream.TryAdd(fast);
        stream.TryAdd(slow);
        var counters = new StreamCounters();

        var run = stream.RunAsync(call, s_catalog.Json, counters);
        for (var i = 1; i <= 100; i++)
        {
            call.Send(new FeedResponse { Sequence = i });
        }

        call.Complete();
        await run;

        // SharedFeed's queue holds 16: the slow sink keeps the newest 16 and reports the 84 it lost.
        Assert.Equal(100, fast.Messages.Count);
        Assert.Equal(16, slow.QueueDepth);
        Assert.Equal(84, slow.DroppedTotal);
        Assert.Equal(84, counters.MessagesDropped);
        Assert.Equal(100, counters.MessagesRead);
    }

    [Fact]
    public async Task LastSinkLeaving_CancelsTheCall_EarlierLeaversChangeNothing()
    {
        var call = new ScriptedCall();
        var stream = Stream();
        var sinks = Enumerable.Range(0, 3).Select(_ => new TestSink(Method("SharedFeed"), MessageEncoding.Json)).ToList();
        sinks.ForEach(sink => stream.TryAdd(sink));
        var run = stream.RunAsync(call, s_catalog.Json, new StreamCounters());

        sinks[1].Cancel();
        sinks[0].Cancel();
        call.Send(new FeedResponse { Sequence = 1 });
        await sinks[2].Received(1);
        Assert.False(call.Cancelled);

        sinks[2].Cancel();
        await run;

        Assert.True(call.Cancelled);
        Assert.False(stream.TryAdd(new TestSink(Method("SharedFeed"), MessageEncoding.Json)));
        Assert.Empty(sinks[0].Messages);
    }

    [Fact]
    public async Task FailedCall_EndsEverySink_WithTheBackendsStatusAndDetails()
    {
        var call = new ScriptedCall();
        var stream = Stream("PrivateFeed");
        var sinks = new[] { new TestSink(Method("PrivateFeed"), MessageEncoding.Json), new TestSink(Method("PrivateFeed"), MessageEncoding.Proto) };
        foreach (var sink in sinks)
        {
            stream.TryAdd(sink);
        }

        var run = stream.RunAsync(call, s_catalog.Json, new StreamCounters());
        var details = new Google.Rpc.Status { Code = 5, Message = "gone", Details = { Google.Protobuf.WellKnownTypes.Any.Pack(new Google.Rpc.ErrorInfo { Reason = "GONE" }) } };
        call.Fail(new RpcException(new Status(StatusCode.NotFound, "gone"), new Metadata { { "grpc-status-details-bin", details.ToByteArray() } }));
        await run;

        Assert.All(sinks, sink =>
        {
            Assert.Equal((int)StatusCode.NotFound, sink.Terminal!.Code);
            Assert.Equal("GONE", sink.Terminal.Details.Single().Unpack<Google.Rpc.ErrorInfo>().Reason);
        });
    }

    /// <summary>A sink that records what it takes; one that does not drain lets its queue fill.</summary>
    [Fact]
    public async Task CallBrokenWithUnavailable_ReopenedOnTheNextReplica_FromTheLastMessagesCursor_SinksSeeNoError()
    {
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider();
        var (first, second) = (new ScriptedCall(), new ScriptedCall());
        var stream = new UpstreamStream(Method("PrivateFeed"), new FeedRequest { Topic = "t" }, [], sharingKey: null, onClosed: null, NullLogger<UpstreamStream>.Instance);
        var sink = new TestSink(Method("PrivateFeed"), MessageEncoding.Json);
        stream.TryAdd(sink);
        CallInvoker? broken = null;
        var failover = new UpstreamFailover(b => { broken = b; return second; }, TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(1), time);

        var run = stream.RunAsync(first, s_catalog.Json, new StreamCounters(), failover);
        first.Send(new FeedResponse { Sequence = 5 });
        await sink.Received(1);
        first.Fail(new RpcException(new Status(StatusCode.Unavailable, "replica gone")));
        while (second.Request is null)
        {
            time.Advance(TimeSpan.FromMilliseconds(100));
            await Task.Delay(1);
        }

        second.Send(new FeedResponse { Sequence = 6 });
        second.Complete();
        await run;

        Assert.Equal(new FeedRequest { Topic = "t", AfterSequence = 5 }, second.Request);
        // The replica whose call broke is named, so the next one can be another.
        Assert.Same(first, broken);
        Assert.Equal(2, sink.Messages.Count);
        Assert.Equal(0, sink.Terminal!.Code);
    }

    [Fact]
    public async Task TokenRefreshedMidStream_ReopenedCallCarriesTheFreshToken_AndTheSubscriptionsMetadata()
    {
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider();
        var (first, second) = (new ScriptedCall(), new ScriptedCall());
        var stream = new UpstreamStream(Method("PrivateFeed"), new FeedRequest { Topic = "t" }, UpstreamStream.CallerHeaders("old", [new Metadata.Entry("x-request-id", "r1")]),
            sharingKey: null, onClosed: null, NullLogger<UpstreamStream>.Instance);
        stream.TryAdd(new TestSink(Method("PrivateFeed"), MessageEncoding.Json));
        var failover = new UpstreamFailover(_ => second, TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(1), time);

        var run = stream.RunAsync(first, s_catalog.Json, new StreamCounters(), failover);
        stream.Reauthorize("fresh");
        first.Fail(new RpcException(new Status(StatusCode.Unavailable, "replica gone")));
        while (second.Headers is null)
        {
            time.Advance(TimeSpan.FromMilliseconds(100));
            await Task.Delay(1);
        }

        second.Complete();
        await run;

        Assert.Equal("Bearer old", first.Headers!.GetValue("authorization"));
        Assert.Equal("Bearer fresh", Assert.Single(second.Headers, e => e.Key == "authorization").Value);
        Assert.Equal("r1", second.Headers.GetValue("x-request-id"));
    }

    [Fact]
    public async Task NoReplicaAnswers_SinksGetUnavailable_OnceTheGracePeriodIsOver()
    {
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider();
        var stream = Stream("PrivateFeed");
        var sink = new TestSink(Method("PrivateFeed"), MessageEncoding.Json);
        stream.TryAdd(sink);
        var attempts = 0;
        var failover = new UpstreamFailover(_ =>
        {
            Interlocked.Increment(ref attempts);
            var down = new ScriptedCall();
            down.Fail(new RpcException(new Status(StatusCode.Unavailable, "connection refused")));
            return down;
        }, TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(1), time);
        var broken = new ScriptedCall();
        broken.Fail(new RpcException(new Status(StatusCode.Unavailable, "replica gone")));

        var started = time.GetUtcNow();
        var run = stream.RunAsync(broken, s_catalog.Json, new StreamCounters(), failover);

        // Time moves only while nothing happens: a stream that is busy re-opening is left to reach its next wait.
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while (!run.IsCompleted)
        {
            var before = Volatile.Read(ref attempts);
            await Task.Delay(2, deadline.Token);
            if (Volatile.Read(ref attempts) == before)
            {
                time.Advance(TimeSpan.FromMilliseconds(100));
            }
        }

        await run;
        Assert.Equal((int)StatusCode.Unavailable, sink.Terminal!.Code);

        // Not before the grace period, and re-opened meanwhile (with backoff: 100, 200, 400, 800 ms, then every second).
        Assert.True(time.GetUtcNow() - started >= TimeSpan.FromSeconds(10));
        Assert.InRange(Volatile.Read(ref attempts), 2, 100);
    }

    [Fact]
    public async Task CallerErrors_AreNotFailedOver()
    {
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider();
        var stream = Stream("PrivateFeed");
        var sink = new TestSink(Method("PrivateFeed"), MessageEncoding.Json);
        stream.TryAdd(sink);
        var failover = new UpstreamFailover(_ => throw new InvalidOperationException("must not re-open"), TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(1), time);
        var call = new ScriptedCall();
        call.Fail(new RpcException(new Status(StatusCode.PermissionDenied, "not yours")));

        await stream.RunAsync(call, s_catalog.Json, new StreamCounters(), failover);

        Assert.Equal((int)StatusCode.PermissionDenied, sink.Terminal!.Code);
    }

    /// <summary>An upstream server-streaming call whose messages and end the test scripts.</summary>
    private sealed class ScriptedCall : CallInvoker
    {
        private readonly Channel<IMessage> _messages = Channel.CreateUnbounded<IMessage>();

        public bool Cancelled { get; private set; }

        /// <summary>The request of the call, once opened.</summary>
        public IMessage? Request { get; private set; }

        /// <summary>The metadata of the call, once opened.</summary>
        public Metadata? Headers { get; private set; }

        public void Send(IMessage message) => _messages.Writer.TryWrite(message);

        public void Complete() => _messages.Writer.TryComplete();

        public void Fail(RpcException error) => _messages.Writer.TryComplete(error);

        public override AsyncServerStreamingCall<TResponse> AsyncServerStreamingCall<TRequest, TResponse>(
            Method<TRequest, TResponse> method, string? host, CallOptions options, TRequest request)
        {
            options.CancellationToken.Register(() => Cancelled = true);
            Request = request as IMessage;
            Headers = options.Headers;
            return new AsyncServerStreamingCall<TResponse>(new Reader<TResponse>(_messages.Reader), Task.FromResult(new Metadata()),
                () => Status.DefaultSuccess, () => [], () => { });
        }

        public override TResponse BlockingUnaryCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options, TRequest request) =>
            throw new NotSupportedException();

        public override AsyncUnaryCall<TResponse> AsyncUnaryCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options, TRequest request) =>
            throw new NotSupportedException();

        public override AsyncClientStreamingCall<TRequest, TResponse> AsyncClientStreamingCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options) =>
            throw new NotSupportedException();

        public override AsyncDuplexStreamingCall<TRequest, TResponse> AsyncDuplexStreamingCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options) =>
            throw new NotSupportedException();

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
                catch (OperationCanceledException)
                {
                    throw new RpcException(new Status(StatusCode.Cancelled, "cancelled"));
                }

                messages.TryRead(out var message);
                Current = (T)message!;
                return true;
            }
        }
    }
}
