using System.Globalization;
using System.Net;
using System.Text.Json;
using EdgeBridge.FunctionalTests.Common;
using EdgeBridge.Testing;
using Grpc.Core;
using Grpc.Health.V1;
using Grpc.Net.Client;
using Trading.V1;

namespace EdgeBridge.FunctionalTests.Replicas;

/// <summary>
/// The replicas' engine restarts under them: requests answer UNAVAILABLE / 503 meanwhile, nothing accepted is lost,
/// and subscriptions resume after without an error frame.
/// </summary>
[Collection(PostgresGroup.Name)]
public sealed class PostgresRestartTests(PostgresServer postgres) : IAsyncLifetime
{
    private readonly PostgresReplicas _stack = new(postgres);

    public Task InitializeAsync() => _stack.InitializeAsync();

    public Task DisposeAsync() => _stack.DisposeAsync();

    [Fact]
    public async Task EngineRestarts_RequestsAnswer503AndUnavailableMeanwhile_NothingAcceptedLost_StreamsResume()
    {
        var alice = await _stack.LoginAsync();
        var (socket, _) = await EdgeSocket.OpenAsync(_stack.Edge, alice.Token);
        await using var _1 = socket;
        await socket.SubscribeAsync("o", "trading.v1.TradingService/StreamOrderUpdates", new { accountId = alice.AccountId });
        var sequences = new List<long>();
        var accepted = new List<string> { await PlaceAsync(alice) };
        await ReceiveThroughAsync(socket, accepted[^1], sequences);

        await postgres.StopAsync();
        try
        {
            // Every replica answers from the same engine: REST 503 with a google.rpc.Status, gRPC UNAVAILABLE.
            await Wait.UntilAsync(async () =>
            {
                var (response, _) = await _stack.SendAsync(HttpMethod.Get, $"/v1/accounts/{alice.AccountId}/portfolio", alice);
                return response.StatusCode == HttpStatusCode.ServiceUnavailable;
            }, "reads answer 503 while the engine is down");
            var (refused, body) = await _stack.SendAsync(HttpMethod.Post, $"/v1/accounts/{alice.AccountId}/orders", alice,
                new { symbol = "ACME", side = "ORDER_SIDE_BUY", quantity = "1" });
            StatusAssert.IsRpcStatus(refused, body, HttpStatusCode.ServiceUnavailable, 14);
            var grpc = new TradingService.TradingServiceClient(_stack.Grpc);
            var error = await Assert.ThrowsAsync<RpcException>(async () => await grpc.GetPortfolioAsync(
                new GetPortfolioRequest { AccountId = alice.AccountId }, alice.Headers));
            Assert.Equal(StatusCode.Unavailable, error.StatusCode);
        }
        finally
        {
            await postgres.StartAsync();
        }

        // Back: writes are accepted again, and the subscription goes on from its cursor.
        await Wait.UntilAsync(async () =>
        {
            var (response, _) = await _stack.SendAsync(HttpMethod.Get, $"/v1/accounts/{alice.AccountId}/portfolio", alice);
            return response.StatusCode == HttpStatusCode.OK;
        }, "the replicas answer again once the engine is back", TimeSpan.FromSeconds(60));
        for (var i = 0; i < 3; i++)
        {
            accepted.Add(await PlaceAsync(alice));
        }

        await ReceiveThroughAsync(socket, accepted[^1], sequences);
        Assert.Equal(Enumerable.Range(1, sequences.Count).Select(i => (long)i), sequences);
        // Two updates (accepted, filled) for each accepted order, and none for the refused one.
        Assert.Equal(2 * accepted.Count, sequences.Count);
        Assert.Equal(2 * accepted.Count, (await _stack.CommittedAsync())["orders/" + alice.AccountId]);
    }

    private async Task<string> PlaceAsync(Session alice)
    {
        var (response, json) = await _stack.SendAsync(HttpMethod.Post, $"/v1/accounts/{alice.AccountId}/orders", alice,
            new { symbol = "PIED", side = "ORDER_SIDE_BUY", quantity = "1" });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return json.GetProperty("order").GetProperty("orderId").GetString()!;
    }

    // Frames through the last update of the order; each must be a `next` (an error frame fails the test).
    private static async Task ReceiveThroughAsync(EdgeSocket socket, string orderId, List<long> sequences)
    {
        while (true)
        {
            var frame = await socket.ReceiveAsync(TimeSpan.FromSeconds(60));
            if (frame.Type() == "ping")
            {
                await socket.SendAsync(new { type = "pong" });
                continue;
            }

            Assert.Equal("next", frame.Type());
            var update = frame.GetProperty("message").GetProperty("update");
            sequences.Add(long.Parse(update.GetProperty("sequence").GetString()!, CultureInfo.InvariantCulture));
            var order = update.GetProperty("order");
            if (order.GetProperty("orderId").GetString() == orderId && order.GetProperty("status").GetString() == "ORDER_STATUS_FILLED")
            {
                return;
            }
        }
    }
}

/// <summary>The replica that runs the market simulator is killed: another takes the lease and prices go on from the last ones.</summary>
[Collection(PostgresGroup.Name)]
public sealed class MarketLeaseTests(PostgresServer postgres) : IAsyncLifetime
{
    private readonly PostgresReplicas _stack = new(postgres);

    public Task InitializeAsync() => _stack.InitializeAsync();

    public Task DisposeAsync() => _stack.DisposeAsync();

    [Fact]
    public async Task LeaderKilled_AnotherReplicaTakesTheLease_QuotesContinueWithinFiveSecondsFromTheLastPrices()
    {
        string[] symbols = ["ACME", "HOOL", "STRK"];
        Assert.Equal("replica-b", await _stack.MarketLeaderAsync());

        // A's own subscriber (its prices came from B until now) and a browser's, whose upstream call may be on either replica.
        using var channel = GrpcChannel.ForAddress(_stack.Backend.GrpcAddress);
        using var direct = new MarketDataService.MarketDataServiceClient(channel).StreamQuotes(new StreamQuotesRequest { Symbols = { symbols } });
        var (socket, _) = await EdgeSocket.OpenAsync(_stack.Edge);
        await using var _1 = socket;
        await socket.SubscribeAsync("q", "trading.v1.MarketDataService/StreamQuotes", new { symbols });

        var viaReplica = new QuoteTrail();
        var viaEdge = new QuoteTrail();
        var reading = Task.WhenAll(
            Task.Run(async () =>
            {
                while (!viaReplica.Done && await direct.ResponseStream.MoveNext(CancellationToken.None))
                {
                    var quote = direct.ResponseStream.Current.Quote;
                    viaReplica.Add(quote.Symbol, quote.Price, quote.Sequence, quote.Time.ToDateTimeOffset());
                }
            }),
            Task.Run(async () =>
            {
                while (!viaEdge.Done)
                {
                    var frame = await socket.ReceiveAsync(TimeSpan.FromSeconds(60));
                    Assert.Equal("next", frame.Type());
                    var quote = frame.GetProperty("message").GetProperty("quote");
                    viaEdge.Add(quote.GetProperty("symbol").GetString()!, quote.GetProperty("price").GetDouble(),
                        long.Parse(quote.GetProperty("sequence").GetString()!, CultureInfo.InvariantCulture), quote.GetProperty("time").GetDateTimeOffset());
                }
            }));

        await Wait.UntilAsync(() => viaReplica.Count > 20 && viaEdge.Count > 20, "quotes from the leader arrive");
        await _stack.ReplicaB.KillAsync();
        await Wait.UntilAsync(async () => await _stack.MarketLeaderAsync() == "replica-a", "replica A takes the market lease");
        var takenOver = DateTimeOffset.UtcNow;
        viaReplica.FinishAfter(takenOver);
        viaEdge.FinishAfter(takenOver);
        await reading.WaitAsync(TimeSpan.FromSeconds(60));

        foreach (var trail in new[] { viaReplica, viaEdge })
        {
            foreach (var symbol in symbols)
            {
                var quotes = trail.Of(symbol);
                // One price history: sequences only increase, and no step between two quotes is a jump or a long silence.
                Assert.All(quotes.Zip(quotes.Skip(1)), pair =>
                {
                    Assert.True(pair.Second.Sequence > pair.First.Sequence, $"{symbol}: sequence {pair.Second.Sequence} after {pair.First.Sequence}");
                    Assert.InRange(pair.Second.Price / pair.First.Price, 0.98, 1.02);
                    Assert.InRange(pair.Second.Time - pair.First.Time, TimeSpan.Zero, TimeSpan.FromSeconds(5));
                });
                Assert.Contains(quotes, q => q.Time > takenOver);
            }
        }
    }

    [Fact]
    public async Task LeaderHangs_AnotherTakesTheLeaseAfterItsTimeout_QuotesContinue_TheHungOneIsFencedWhenItWakes()
    {
        Assert.Equal("replica-b", await _stack.MarketLeaderAsync());
        using var channel = GrpcChannel.ForAddress(_stack.Backend.GrpcAddress);
        using var direct = new MarketDataService.MarketDataServiceClient(channel).StreamQuotes(new StreamQuotesRequest { Symbols = { "ACME" } });
        var quotes = new List<Point>();
        using var stop = new CancellationTokenSource();
        var reading = Task.Run(async () =>
        {
            while (await direct.ResponseStream.MoveNext(stop.Token))
            {
                var quote = direct.ResponseStream.Current.Quote;
                lock (quotes)
                {
                    quotes.Add(new Point(quote.Price, quote.Sequence, quote.Time.ToDateTimeOffset()));
                }
            }
        });
        int Count()
        {
            lock (quotes)
            {
                return quotes.Count;
            }
        }

        await Wait.UntilAsync(() => Count() > 10, "quotes from the leader arrive");
        // SIGSTOP: B's session, and with it the advisory lock, stays; only its heartbeat stops.
        await _stack.ReplicaB.PauseAsync();
        try
        {
            await Wait.UntilAsync(async () => await _stack.MarketLeaderAsync() == "replica-a", "replica A ends the hung holder's session and takes the lease", TimeSpan.FromSeconds(60));
            var atTakeover = Count();
            await Wait.UntilAsync(() => Count() > atTakeover + 10, "A's own prices arrive");
        }
        finally
        {
            await _stack.ReplicaB.ResumeAsync();
        }

        // B wakes to a session that is gone: it neither leads again nor gets a stale price through.
        var afterWake = Count();
        await Wait.UntilAsync(() => Count() > afterWake + 40, "prices go on after B wakes");
        Assert.Equal("replica-a", await _stack.MarketLeaderAsync());
        await stop.CancelAsync();
        await reading.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing | ConfigureAwaitOptions.ContinueOnCapturedContext);

        List<Point> trail;
        lock (quotes)
        {
            trail = [.. quotes];
        }

        Assert.All(trail.Zip(trail.Skip(1)), pair =>
        {
            Assert.True(pair.Second.Sequence > pair.First.Sequence, $"sequence {pair.Second.Sequence} after {pair.First.Sequence}");
            Assert.InRange(pair.Second.Price / pair.First.Price, 0.98, 1.02);
        });
    }

    private readonly record struct Point(double Price, long Sequence, DateTimeOffset Time);

    /// <summary>The quotes one subscriber received, per symbol; done once every symbol has one newer than the takeover.</summary>
    private sealed class QuoteTrail
    {
        private readonly Lock _lock = new();
        private readonly Dictionary<string, List<Point>> _quotes = new(StringComparer.Ordinal);
        private DateTimeOffset? _after;

        public int Count
        {
            get
            {
                lock (_lock)
                {
                    return _quotes.Values.Sum(q => q.Count);
                }
            }
        }

        public bool Done
        {
            get
            {
                lock (_lock)
                {
                    return _after is { } after && _quotes.Count == 3 && _quotes.Values.All(q => q[^1].Time > after.AddSeconds(1));
                }
            }
        }

        public void Add(string symbol, double price, long sequence, DateTimeOffset time)
        {
            lock (_lock)
            {
                if (!_quotes.TryGetValue(symbol, out var list))
                {
                    _quotes[symbol] = list = [];
                }

                list.Add(new Point(price, sequence, time));
            }
        }

        public void FinishAfter(DateTimeOffset time)
        {
            lock (_lock)
            {
                _after = time;
            }
        }

        public List<Point> Of(string symbol)
        {
            lock (_lock)
            {
                return [.. _quotes[symbol]];
            }
        }
    }
}

/// <summary>A backend whose engine is unreachable at start comes up not ready, answers UNAVAILABLE, and becomes ready when the engine does.</summary>
[Collection(PostgresGroup.Name)]
public sealed class PostgresUnreachableAtStartTests(PostgresServer postgres)
{
    [Fact]
    public async Task EngineDownAtStart_NotReady_CallsAnswer503AndUnavailable_ReadyOnceTheEngineIsUp()
    {
        var database = await postgres.CreateDatabaseAsync();
        await postgres.StopAsync();
        await using var backend = new BackendServer();
        try
        {
            await backend.StartAsync(new Dictionary<string, string?>
            {
                ["Backend:Database:Provider"] = "PostgreSql",
                ["Backend:Database:ConnectionString"] = database,
                ["Backend:Database:RetryInterval"] = "00:00:00.200",
            });
            using var http = new HttpClient { BaseAddress = new Uri(backend.RestAddress) };
            using var channel = GrpcChannel.ForAddress(backend.GrpcAddress);

            Assert.Equal(HttpStatusCode.ServiceUnavailable, (await http.GetAsync("/readyz")).StatusCode);
            var health = await new Grpc.Health.V1.Health.HealthClient(channel).CheckAsync(new HealthCheckRequest());
            Assert.Equal(HealthCheckResponse.Types.ServingStatus.NotServing, health.Status);
            using var login = await http.PostAsync("/v1/auth/login", JsonContent(new { username = "alice", password = "wonderland" }));
            StatusAssert.IsRpcStatus(login, JsonDocument.Parse(await login.Content.ReadAsStringAsync()).RootElement, HttpStatusCode.ServiceUnavailable, 14);
            var error = await Assert.ThrowsAsync<RpcException>(async () =>
                await new MarketDataService.MarketDataServiceClient(channel).GetQuoteAsync(new GetQuoteRequest { Symbol = "ACME" }));
            Assert.Equal(StatusCode.Unavailable, error.StatusCode);

            await postgres.StartAsync();
            await Wait.UntilAsync(async () => (await http.GetAsync("/readyz")).IsSuccessStatusCode, "the backend is ready once the engine is up", TimeSpan.FromSeconds(60));
            // The schema and the demo users are there: nothing was half-written.
            using var ok = await http.PostAsync("/v1/auth/login", JsonContent(new { username = "alice", password = "wonderland" }));
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        }
        finally
        {
            await postgres.StartAsync();
        }
    }

    private static StringContent JsonContent(object body) => new(JsonSerializer.Serialize(body), System.Text.Encoding.UTF8, "application/json");
}
