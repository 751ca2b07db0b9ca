using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Text.Json;
using EdgeBridge.FunctionalTests.Common;
using EdgeBridge.Testing;

namespace EdgeBridge.FunctionalTests.Replicas;

/// <summary>
/// A backend replica killed with SIGKILL while a hundred browsers follow order updates and a chat room and orders and
/// messages keep arriving through the edge: every subscriber ends with exactly the committed sequence of each stream —
/// nothing lost, nothing twice, in order — and never sees an error frame.
/// </summary>
[Collection(PostgresGroup.Name)]
public sealed class PostgresFailoverTests(PostgresServer postgres) : IAsyncLifetime
{
    private const string StreamOrderUpdates = "trading.v1.TradingService/StreamOrderUpdates";
    private const string StreamRoom = "chat.v1.ChatService/StreamRoom";
    private const int Subscribers = 100;
    private const string Room = "floor";

    private readonly PostgresReplicas _stack = new(postgres);

    public Task InitializeAsync() => _stack.InitializeAsync();

    public Task DisposeAsync() => _stack.DisposeAsync();

    [Fact]
    public async Task ReplicaKilled_HundredSubscribersOfOrdersAndChat_EachEndsWithExactlyTheCommittedSequences_NoErrorFrame()
    {
        Session[] users = [await _stack.LoginAsync("alice", "wonderland"), await _stack.LoginAsync("bob", "builder")];
        var subscribers = new List<Subscriber>();
        for (var i = 0; i < Subscribers; i++)
        {
            var user = users[i % 2];
            var (socket, _) = await EdgeSocket.OpenAsync(_stack.Edge, user.Token);
            await socket.SubscribeAsync("o", StreamOrderUpdates, new { accountId = user.AccountId });
            await socket.SubscribeAsync("c", StreamRoom, new { room = Room });
            subscribers.Add(new Subscriber(socket, user.AccountId));
        }

        var targets = new Targets();
        var readers = subscribers.Select(s => Task.Run(() => s.ReadAsync(targets))).ToList();

        using var stop = new CancellationTokenSource();
        var writers = new Writers(_stack, users);
        var writing = writers.RunAsync(stop.Token);

        await Wait.UntilAsync(() => writers.Orders >= 20 && writers.Messages >= 10, "orders and messages flow through both replicas", TimeSpan.FromSeconds(60));
        await Wait.UntilAsync(() => subscribers.All(s => s.Received(orders: 1, messages: 1)), "every subscription receives", TimeSpan.FromSeconds(60));

        // Each subscription's upstream call is on one of the two replicas; both replicas serve some.
        var startedOnA = StartedOnA();
        Assert.InRange(startedOnA, 1, 2 * Subscribers - 1);
        await _stack.ReplicaB.KillAsync();
        var (ordersAtKill, messagesAtKill) = (writers.Orders, writers.Messages);
        await Wait.UntilAsync(() => writers.Orders >= ordersAtKill + 20 && writers.Messages >= messagesAtKill + 10,
            "orders and messages go on through the surviving replica", TimeSpan.FromSeconds(60));
        await stop.CancelAsync();
        await writing;

        // Each accepted order is there once: retries reuse its client_order_id.
        Assert.Equal(writers.AcceptedOrders.Count, writers.AcceptedOrders.Distinct().Count());

        // What each subscriber must end with: every event the engine committed, and one last message that wakes every reader.
        var committed = await _stack.CommittedAsync();
        committed["chat/" + Room]++;
        targets.Set(committed, "chat/" + Room);
        await writers.PostAsync("last");
        Assert.Equal(committed, await _stack.CommittedAsync());
        await Task.WhenAll(readers).WaitAsync(TimeSpan.FromSeconds(120));

        foreach (var subscriber in subscribers)
        {
            Assert.Empty(subscriber.Errors);
            Assert.Equal(Sequence(committed["orders/" + subscriber.AccountId]), subscriber.Orders);
            Assert.Equal(Sequence(committed["chat/" + Room]), subscriber.Messages);
        }

        // The calls that streamed from B were re-opened on A, each from its subscriber's cursor.
        Assert.Equal(2 * Subscribers - startedOnA, StartedOnA() - startedOnA);

        // Nothing accepted is missing from the streams: every order a writer was told about was announced.
        var announced = subscribers.Take(2).SelectMany(s => s.OrderIds).ToHashSet();
        Assert.Superset(announced, writers.AcceptedOrders.ToHashSet());
        foreach (var subscriber in subscribers)
        {
            await subscriber.Socket.DisposeAsync();
        }
    }

    private long StartedOnA() => _stack.Backend.Calls.Started("/" + StreamOrderUpdates) + _stack.Backend.Calls.Started("/" + StreamRoom);

    private static List<long> Sequence(long last) => Enumerable.Range(1, (int)last).Select(i => (long)i).ToList();

    /// <summary>The last sequence every reader waits for; unknown until the writers stop.</summary>
    private sealed class Targets
    {
        private volatile Dictionary<string, long>? _streams;
        private string _room = "";

        public bool Reached(string accountId, long orders, long messages) =>
            _streams is { } streams && orders >= streams["orders/" + accountId] && messages >= streams[_room];

        public void Set(Dictionary<string, long> streams, string room)
        {
            _room = room;
            _streams = streams;
        }
    }

    private sealed class Subscriber(EdgeSocket socket, string accountId)
    {
        private int _orders;
        private int _messages;

        public EdgeSocket Socket { get; } = socket;

        public string AccountId { get; } = accountId;

        public List<long> Orders { get; } = [];

        public List<long> Messages { get; } = [];

        public HashSet<string> OrderIds { get; } = [];

        public List<string> Errors { get; } = [];

        public bool Received(int orders, int messages) => Volatile.Read(ref _orders) >= orders && Volatile.Read(ref _messages) >= messages;

        public async Task ReadAsync(Targets targets)
        {
            while (!targets.Reached(AccountId, Orders.LastOrDefault(), Messages.LastOrDefault()))
            {
                var frame = await Socket.ReceiveAsync(TimeSpan.FromSeconds(120));
                if (frame.Type() == "ping")
                {
                    // Quiet for the keep-alive interval: answer as a browser client does.
                    await Socket.SendAsync(new { type = "pong" });
                    continue;
                }

                if (frame.Type() != "next")
                {
                    Errors.Add(frame.GetRawText());
                    continue;
                }

                var message = frame.GetProperty("message");
                if (frame.Id() == "o")
                {
                    var update = message.GetProperty("update");
                    Orders.Add(Parse(update.GetProperty("sequence")));
                    OrderIds.Add(update.GetProperty("order").GetProperty("orderId").GetString()!);
                    Interlocked.Increment(ref _orders);
                }
                else
                {
                    Messages.Add(Parse(message.GetProperty("message").GetProperty("sequence")));
                    Interlocked.Increment(ref _messages);
                }
            }
        }

        private static long Parse(JsonElement value) => long.Parse(value.GetString()!, CultureInfo.InvariantCulture);
    }

    /// <summary>
    /// Orders for both users and chat messages, one after another, each retried until it is answered 200 — the way a
    /// careful client treats 502/503 while a replica dies: an order with the same client_order_id, so it is placed once.
    /// </summary>
    private sealed class Writers(PostgresReplicas stack, Session[] users)
    {
        private int _orders;
        private int _messages;

        public int Orders => Volatile.Read(ref _orders);

        public int Messages => Volatile.Read(ref _messages);

        public ConcurrentBag<string> AcceptedOrders { get; } = [];

        public Task RunAsync(CancellationToken stop) => Task.WhenAll(
            Task.Run(() => PlaceOrdersAsync(users[0], stop), CancellationToken.None),
            Task.Run(() => PlaceOrdersAsync(users[1], stop), CancellationToken.None),
            Task.Run(async () =>
            {
                while (!stop.IsCancellationRequested)
                {
                    await PostAsync("m" + Messages);
                    Interlocked.Increment(ref _messages);
                    await Pace(stop);
                }
            }, CancellationToken.None));

        public async Task PostAsync(string text) =>
            await UntilAcceptedAsync(users[0], $"/v1/rooms/{Room}/messages", new { text });

        private async Task PlaceOrdersAsync(Session user, CancellationToken stop)
        {
            while (!stop.IsCancellationRequested)
            {
                var json = await UntilAcceptedAsync(user, $"/v1/accounts/{user.AccountId}/orders",
                    new { symbol = "PIED", side = "ORDER_SIDE_BUY", quantity = "1", clientOrderId = Guid.NewGuid().ToString("N") });
                AcceptedOrders.Add(json.GetProperty("order").GetProperty("orderId").GetString()!);
                Interlocked.Increment(ref _orders);
                await Pace(stop);
            }
        }

        private async Task<JsonElement> UntilAcceptedAsync(Session user, string path, object body)
        {
            for (var attempt = 0; ; attempt++)
            {
                try
                {
                    var (response, json) = await stack.SendAsync(HttpMethod.Post, path, user, body);
                    using (response)
                    {
                        if (response.StatusCode == HttpStatusCode.OK)
                        {
                            return json;
                        }

                        // Only what a dying replica causes is retried.
                        Assert.Contains(response.StatusCode, new[] { HttpStatusCode.BadGateway, HttpStatusCode.ServiceUnavailable, HttpStatusCode.GatewayTimeout });
                    }
                }
                catch (HttpRequestException)
                {
                }

                Assert.True(attempt < 200, $"POST {path} was not accepted after {attempt} attempts.");
                await Task.Delay(50);
            }
        }

        // A steady flow, not a flood: the point is that writes are in flight when the replica dies.
        private static async Task Pace(CancellationToken stop) =>
            await Task.Delay(20, stop).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }
}
