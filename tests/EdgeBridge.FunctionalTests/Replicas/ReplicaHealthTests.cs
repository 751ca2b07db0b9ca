using System.Net;
using EdgeBridge.FunctionalTests.Common;
using Grpc.Core;
using Trading.V1;

namespace EdgeBridge.FunctionalTests.Replicas;

/// <summary>Two backend replicas behind the edge: replica A in process, replica B a process the test can kill.</summary>
public class TwoReplicaStackFixture : StackFixture
{
    private BackendProcess? _replicaB;

    public BackendProcess ReplicaB => _replicaB!;

    protected override IDictionary<string, string?> EdgeSettings =>
        ReplicaEdgeSettings.SecondDestination("replica-b", ReplicaB.RestAddress, ReplicaB.GrpcAddress);

    public override async Task InitializeAsync()
    {
        _replicaB = await BackendProcess.StartAsync();
        await base.InitializeAsync();
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await ReplicaB.DisposeAsync();
    }
}

/// <summary>
/// The edge spreads calls over every healthy replica and takes a killed one out with YARP's active health checks
/// (GET /readyz on each destination) and passive failure detection: REST, gRPC and new subscriptions go on.
/// </summary>
public sealed class ReplicaHealthTests(TwoReplicaStackFixture stack) : IClassFixture<TwoReplicaStackFixture>
{
    private const string GetQuote = "/trading.v1.MarketDataService/GetQuote";
    private const string StreamQuotes = "/trading.v1.MarketDataService/StreamQuotes";

    [Fact]
    public async Task ReplicaKilled_TakenOutByHealthChecks_RestGrpcAndSubscriptionsServedByTheOther()
    {
        var client = new MarketDataService.MarketDataServiceClient(stack.Grpc);

        // Both replicas take calls.
        var before = stack.Backend.Calls.UnaryCount(GetQuote);
        for (var i = 0; i < 40; i++)
        {
            await client.GetQuoteAsync(new GetQuoteRequest { Symbol = "ACME" });
        }

        var servedByA = stack.Backend.Calls.UnaryCount(GetQuote) - before;
        Assert.InRange(servedByA, 1, 39);

        // Live subscriptions, their upstream calls spread over both replicas.
        string[] live = ["MASS", "STRK", "UMBR", "WAYN"];
        var startedAtA = stack.Backend.Calls.Started(StreamQuotes);
        var (watcher, _) = await EdgeSocket.OpenAsync(stack.Edge);
        await using var _0 = watcher;
        foreach (var symbol in live)
        {
            await watcher.SubscribeAsync(symbol, "trading.v1.MarketDataService/StreamQuotes", new { symbols = new[] { symbol } });
            await watcher.ReceiveUntilAsync(f => f.Type() == "next" && f.Id() == symbol);
        }

        var onB = live.Length - (stack.Backend.Calls.Started(StreamQuotes) - startedAtA);
        Assert.InRange(onB, 1, live.Length - 1);

        await stack.ReplicaB.KillAsync();
        var killed = DateTimeOffset.UtcNow;

        // The calls that streamed from B are re-opened on A: every subscription goes on, without an error frame.
        var startedBeforeFailover = stack.Backend.Calls.Started(StreamQuotes);
        await Wait.UntilAsync(() => stack.Backend.Calls.Started(StreamQuotes) - startedBeforeFailover == onB, "the broken calls are re-opened on A");
        // Operators see the failovers.
        await Wait.UntilAsync(async () => Reopened(await stack.Rest.GetStringAsync("/metrics")) >= onB, "the re-opens are counted");

        var waiting = live.ToHashSet();
        while (waiting.Count > 0)
        {
            var frame = await watcher.ReceiveAsync(Wait.Deadline);
            Assert.Equal("next", frame.Type());
            if (frame.GetProperty("message").GetProperty("quote").GetProperty("time").GetDateTimeOffset() > killed)
            {
                waiting.Remove(frame.Id()!);
            }
        }

        // Calls that reach the dead replica fail until its checks fail; then every call goes to A.
        await Wait.UntilAsync(async () =>
        {
            for (var i = 0; i < 10; i++)
            {
                try
                {
                    await client.GetQuoteAsync(new GetQuoteRequest { Symbol = "ACME" });
                    using var response = await stack.Rest.GetAsync("/v1/quotes/ACME");
                    if (response.StatusCode != HttpStatusCode.OK)
                    {
                        return false;
                    }
                }
                catch (RpcException)
                {
                    return false;
                }
            }

            return true;
        }, "the killed replica is out of rotation");

        before = stack.Backend.Calls.UnaryCount(GetQuote);
        for (var i = 0; i < 30; i++)
        {
            await client.GetQuoteAsync(new GetQuoteRequest { Symbol = "ACME" });
            using var response = await stack.Rest.GetAsync("/v1/quotes/ACME");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        // Replica A served all of them: the 30 gRPC calls and the 30 REST reads it transcoded into GetQuote.
        Assert.Equal(60, stack.Backend.Calls.UnaryCount(GetQuote) - before);

        // New subscriptions open their upstream calls on the live replica.
        await AssertNewSubscriptionsOpenOnReplicaAAsync(stack);
    }

    /// <summary>Four new subscriptions through the edge each get their first message, every upstream call on replica A (in process).</summary>
    internal static async Task AssertNewSubscriptionsOpenOnReplicaAAsync(StackFixture stack)
    {
        string[] symbols = ["GLBX", "INIT", "OSCP", "PIED"];
        var streamsBefore = stack.Backend.Calls.Started(StreamQuotes);
        var (socket, _) = await EdgeSocket.OpenAsync(stack.Edge);
        await using var _1 = socket;
        foreach (var symbol in symbols)
        {
            await socket.SubscribeAsync(symbol, "trading.v1.MarketDataService/StreamQuotes", new { symbols = new[] { symbol } });
        }

        foreach (var symbol in symbols)
        {
            var (frame, before) = await socket.ReceiveUntilAsync(f => f.Id() == symbol);
            Assert.Equal("next", frame.Type());
            Assert.DoesNotContain(before, f => f.Type() == "error");
        }

        Assert.Equal(symbols.Length, stack.Backend.Calls.Started(StreamQuotes) - streamsBefore);
    }

    /// <summary>The edge's <c>edgebridge_upstream_calls_reopened_total</c>, summed over its labels.</summary>
    internal static double Reopened(string metrics) => metrics.Split('\n')
        .Where(line => line.StartsWith("edgebridge_upstream_calls_reopened_total", StringComparison.Ordinal))
        .Select(line => double.Parse(line[(line.LastIndexOf(' ') + 1)..], System.Globalization.CultureInfo.InvariantCulture))
        .DefaultIfEmpty(0)
        .Sum();
}

/// <summary>Its own pair of replicas: one of them hangs and comes back.</summary>
public sealed class HangingReplicaStackFixture : TwoReplicaStackFixture;

/// <summary>A replica that hangs (SIGSTOP: its sockets stay open, nothing answers) is taken out by the probe's timeout and comes back when it answers again.</summary>
public sealed class HangingReplicaTests(HangingReplicaStackFixture stack) : IClassFixture<HangingReplicaStackFixture>
{
    private const string GetQuote = "/trading.v1.MarketDataService/GetQuote";

    [Fact]
    public async Task ReplicaHangs_TakenOutWithinItsProbeTimeout_BackInRotationWhenItAnswers()
    {
        var client = new MarketDataService.MarketDataServiceClient(stack.Grpc);

        // A call that lands on the hung replica is given up by the caller after a few seconds.
        async Task<bool> TenCallsAnswered()
        {
            for (var i = 0; i < 10; i++)
            {
                try
                {
                    await client.GetQuoteAsync(new GetQuoteRequest { Symbol = "ACME" }, deadline: DateTime.UtcNow.AddSeconds(3));
                }
                catch (RpcException)
                {
                    return false;
                }
            }

            return true;
        }

        await stack.ReplicaB.PauseAsync();
        try
        {
            await Wait.UntilAsync(TenCallsAnswered, "the hung replica is out of rotation", TimeSpan.FromSeconds(60));
            var before = stack.Backend.Calls.UnaryCount(GetQuote);
            for (var i = 0; i < 20; i++)
            {
                await client.GetQuoteAsync(new GetQuoteRequest { Symbol = "ACME" }, deadline: DateTime.UtcNow.AddSeconds(10));
            }

            Assert.Equal(20, stack.Backend.Calls.UnaryCount(GetQuote) - before);
        }
        finally
        {
            await stack.ReplicaB.ResumeAsync();
        }

        // Once its probes pass again, replica B takes calls again.
        await Wait.UntilAsync(async () =>
        {
            var before = stack.Backend.Calls.UnaryCount(GetQuote);
            for (var i = 0; i < 20; i++)
            {
                await client.GetQuoteAsync(new GetQuoteRequest { Symbol = "ACME" }, deadline: DateTime.UtcNow.AddSeconds(10));
            }

            return stack.Backend.Calls.UnaryCount(GetQuote) - before < 20;
        }, "the replica is back in rotation", TimeSpan.FromSeconds(60));
    }
}

/// <summary>
/// A "replica" that accepts connections and answers garbage — not HTTP, then a reset — as a process on a port
/// reused by something else would.
/// </summary>
public sealed class GarbageReplicaStackFixture : StackFixture
{
    private readonly System.Net.Sockets.TcpListener _garbage = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private Task _serving = Task.CompletedTask;

    public string GarbageAddress => $"http://127.0.0.1:{((IPEndPoint)_garbage.LocalEndpoint).Port}";

    protected override IDictionary<string, string?> EdgeSettings =>
        ReplicaEdgeSettings.SecondDestination("garbage", GarbageAddress, GarbageAddress);

    public override async Task InitializeAsync()
    {
        _garbage.Start();
        _serving = ServeGarbageAsync();
        await base.InitializeAsync();
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await _stop.CancelAsync();
        _garbage.Stop();
        await _serving.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _stop.Dispose();
    }

    private async Task ServeGarbageAsync()
    {
        var junk = "\u0015\u0003\u0001garbage, not HTTP\r\n\r\n"u8.ToArray();
        while (!_stop.IsCancellationRequested)
        {
            using var client = await _garbage.AcceptTcpClientAsync(_stop.Token);
            try
            {
                await client.GetStream().WriteAsync(junk, _stop.Token);
            }
            catch (IOException)
            {
                // The edge hung up first.
            }

            client.Client.LingerState = new System.Net.Sockets.LingerOption(true, 0);
        }
    }
}

/// <summary>A destination that answers garbage is taken out by the health checks: REST, gRPC and subscriptions go to the working replica, and are not retried on it forever.</summary>
public sealed class GarbageReplicaTests(GarbageReplicaStackFixture stack) : IClassFixture<GarbageReplicaStackFixture>
{
    private const string GetQuote = "/trading.v1.MarketDataService/GetQuote";

    [Fact]
    public async Task ReplicaAnswersGarbage_TakenOutByHealthChecks_EverythingServedByTheWorkingOne()
    {
        var client = new MarketDataService.MarketDataServiceClient(stack.Grpc);
        await Wait.UntilAsync(async () =>
        {
            try
            {
                for (var i = 0; i < 10; i++)
                {
                    await client.GetQuoteAsync(new GetQuoteRequest { Symbol = "ACME" }, deadline: DateTime.UtcNow.AddSeconds(5));
                    using var response = await stack.Rest.GetAsync("/v1/quotes/ACME");
                    if (response.StatusCode != HttpStatusCode.OK)
                    {
                        return false;
                    }
                }

                return true;
            }
            catch (RpcException)
            {
                return false;
            }
        }, "the garbage destination is out of rotation", TimeSpan.FromSeconds(60));

        var before = stack.Backend.Calls.UnaryCount(GetQuote);
        for (var i = 0; i < 20; i++)
        {
            await client.GetQuoteAsync(new GetQuoteRequest { Symbol = "ACME" });
        }

        Assert.Equal(20, stack.Backend.Calls.UnaryCount(GetQuote) - before);

        // New subscriptions open on the working replica, every one of them, with no error frame.
        await ReplicaHealthTests.AssertNewSubscriptionsOpenOnReplicaAAsync(stack);
    }
}
