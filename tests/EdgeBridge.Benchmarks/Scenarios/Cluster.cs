using System.Diagnostics;
using System.Globalization;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using Chat.V1;
using EdgeBridge.Testing;
using Grpc.Core;
using Grpc.Net.Client;
using Trading.V1;

namespace EdgeBridge.Benchmarks.Scenarios;

/// <summary>
/// Two backend replicas on one PostgreSQL database behind the edge, with the shipped defaults:
/// <list type="bullet">
/// <item>publish → deliver of a chat message committed through replica A to a stream served by replica B
/// (LISTEN/NOTIFY, then a read of the events table), side by side with the same message published and streamed on B;</item>
/// <item>failover: a hundred browsers stream a room through the edge while messages keep arriving; replica B is
/// killed (SIGKILL) and the time until every subscriber receives again is measured.</item>
/// </list>
/// </summary>
internal static class Cluster
{
    internal sealed record Result(int Round, Delivery SameReplica, Delivery CrossReplica, int Subscribers, int Reopened, double FailoverP50Ms, double FailoverMaxMs, int ErrorFrames, int Gaps);

    internal sealed record Delivery(int Messages, double P50Micros, double P99Micros);

    public static async Task<List<Result>> RunAsync(Options options)
    {
        var results = new List<Result>();
        await using var postgres = new PostgresServer();
        await postgres.InitializeAsync();
        var messages = options.Smoke ? 20 : 500;
        var subscribers = options.Smoke ? 5 : 100;
        for (var round = 1; round <= options.Rounds; round++)
        {
            var database = await postgres.CreateDatabaseAsync();
            var a = await StartReplicaAsync(database + ";Application Name=replica-a");
            var b = await StartReplicaAsync(database + ";Application Name=replica-b");
            try
            {
                var (port, grpc) = (Harness.FreePort(), Harness.FreePort());
                await using var edge = new SystemUnderTest("edgebridge", Harness.Start("edgebridge", new Dictionary<string, string>
                {
                    ["port"] = Harness.Invariant(port),
                    ["grpc"] = Harness.Invariant(grpc),
                    ["upstream"] = $"http://127.0.0.1:{a.GrpcPort}",
                    ["rest"] = $"http://127.0.0.1:{a.RestPort}",
                    ["upstream2"] = $"http://127.0.0.1:{b.GrpcPort}",
                    ["rest2"] = $"http://127.0.0.1:{b.RestPort}",
                }), port, grpc);
                await Harness.WaitForPortAsync(port);

                using var channelA = GrpcChannel.ForAddress($"http://127.0.0.1:{a.GrpcPort}");
                using var channelB = GrpcChannel.ForAddress($"http://127.0.0.1:{b.GrpcPort}");
                var login = await new AuthService.AuthServiceClient(channelA).LoginAsync(new LoginRequest { Username = "alice", Password = "wonderland" });
                var headers = new Metadata { { "authorization", "Bearer " + login.AccessToken } };

                // Both paths once unmeasured first: the first messages pay for JIT compilation, whichever path goes first.
                await MeasureDeliveryAsync(new ChatService.ChatServiceClient(channelB), new ChatService.ChatServiceClient(channelB), headers, $"warm-same-{round}", messages / 2);
                await MeasureDeliveryAsync(new ChatService.ChatServiceClient(channelA), new ChatService.ChatServiceClient(channelB), headers, $"warm-cross-{round}", messages / 2);
                var same = await MeasureDeliveryAsync(new ChatService.ChatServiceClient(channelB), new ChatService.ChatServiceClient(channelB), headers, $"same-{round}", messages);
                var cross = await MeasureDeliveryAsync(new ChatService.ChatServiceClient(channelA), new ChatService.ChatServiceClient(channelB), headers, $"cross-{round}", messages);
                Console.Error.WriteLine($"cluster round {round} publish → deliver: same replica p50 {same.P50Micros / 1000:N2} ms p99 {same.P99Micros / 1000:N2} ms; " +
                    $"cross-replica p50 {cross.P50Micros / 1000:N2} ms p99 {cross.P99Micros / 1000:N2} ms");

                var reopenedBefore = await ReopenedAsync(edge);
                var failover = await MeasureFailoverAsync(edge, b, new ChatService.ChatServiceClient(channelA), headers, login.AccessToken, $"failover-{round}", subscribers);
                var reopened = (int)(await SettledReopenedAsync(edge) - reopenedBefore);
                Console.Error.WriteLine($"cluster round {round} failover of {subscribers} subscribers ({reopened} calls re-opened): p50 {failover.P50Ms:N0} ms, " +
                    $"every one receiving again after {failover.MaxMs:N0} ms, {failover.Errors} error frames, {failover.Gaps} gaps");
                results.Add(new Result(round, same, cross, subscribers, reopened, failover.P50Ms, failover.MaxMs, failover.Errors, failover.Gaps));
            }
            finally
            {
                await a.DisposeAsync();
                await b.DisposeAsync();
            }
        }

        return results;
    }

    // The metrics endpoint serves a cached scrape for a while: read until two reads seconds apart agree.
    private static async Task<double> SettledReopenedAsync(SystemUnderTest edge)
    {
        var last = await ReopenedAsync(edge);
        for (var i = 0; i < 10; i++)
        {
            await Task.Delay(TimeSpan.FromSeconds(2));
            var now = await ReopenedAsync(edge);
            if (now == last && i > 0)
            {
                break;
            }

            last = now;
        }

        return last;
    }

    // The edge's own count of subscriptions' upstream calls re-opened on another replica.
    private static async Task<double> ReopenedAsync(SystemUnderTest edge)
    {
        using var http = new HttpClient();
        var metrics = await http.GetStringAsync($"http://127.0.0.1:{edge.Port}/metrics");
        return metrics.Split('\n')
            .Where(line => line.StartsWith("edgebridge_upstream_calls_reopened_total", StringComparison.Ordinal))
            .Sum(line => double.Parse(line[(line.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture));
    }

    private static async Task<Backend> StartReplicaAsync(string connectionString)
    {
        var (grpc, rest) = (Harness.FreePort(), Harness.FreePort());
        var process = Harness.Start("backend-pg", new Dictionary<string, string>
        {
            ["grpc"] = Harness.Invariant(grpc),
            ["rest"] = Harness.Invariant(rest),
            ["db"] = connectionString,
        });
        using var http = new HttpClient();
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            try
            {
                if ((await http.GetAsync($"http://127.0.0.1:{rest}/readyz")).IsSuccessStatusCode)
                {
                    return new Backend(process, grpc, rest);
                }
            }
            catch (HttpRequestException) when (DateTime.UtcNow < deadline)
            {
            }

            await Task.Delay(100);
        }
    }

    /// <summary>Posts <paramref name="count"/> messages, 100 a second, through one replica, and times each one's arrival on a stream from another.</summary>
    private static async Task<Delivery> MeasureDeliveryAsync(ChatService.ChatServiceClient poster, ChatService.ChatServiceClient streamer, Metadata headers, string room, int count)
    {
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        using var stream = streamer.StreamRoom(new StreamRoomRequest { Room = room }, headers, cancellationToken: cancel.Token);
        var latencies = new List<double>(count);
        var warm = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var reading = Task.Run(async () =>
        {
            while (latencies.Count < count && await stream.ResponseStream.MoveNext(cancel.Token))
            {
                var text = stream.ResponseStream.Current.Message.Text;
                if (text == "warm")
                {
                    warm.TrySetResult();
                    continue;
                }

                latencies.Add(Stopwatch.GetElapsedTime(long.Parse(text, CultureInfo.InvariantCulture)).TotalMicroseconds);
            }
        });

        // The stream is open once a first message arrives through it.
        await poster.PostMessageAsync(new PostMessageRequest { Room = room, Text = "warm" }, headers);
        await warm.Task.WaitAsync(cancel.Token);
        using var pace = new PeriodicTimer(TimeSpan.FromMilliseconds(10));
        for (var i = 0; i < count; i++)
        {
            await pace.WaitForNextTickAsync(cancel.Token);
            await poster.PostMessageAsync(new PostMessageRequest { Room = room, Text = Stopwatch.GetTimestamp().ToString(CultureInfo.InvariantCulture) }, headers);
        }

        await reading;
        latencies.Sort();
        return new Delivery(latencies.Count, Percentile(latencies, 0.50), Percentile(latencies, 0.99));
    }

    /// <summary>
    /// Subscribers of one room through the edge; messages posted on replica A every 20 ms; replica B killed. For each
    /// subscriber, the time from the kill to its receipt of the first message posted after B was gone.
    /// </summary>
    /// <remarks>
    /// Subscribers asking for the same stream would share one upstream call; each asks from its own cursor (the room
    /// holds <paramref name="count"/> messages first), so each has its own call and the edge spreads them over both replicas.
    /// </remarks>
    private static async Task<(double P50Ms, double MaxMs, int Errors, int Gaps)> MeasureFailoverAsync(
        SystemUnderTest edge, Backend victim, ChatService.ChatServiceClient poster, Metadata headers, string token, string room, int count)
    {
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(180));
        var sockets = new List<ClientWebSocket>();
        // Recovery counts from the kill, with a message posted after the process is gone: one posted a moment after
        // the signal may still have been delivered by the dying replica.
        var killedAt = 0L;
        var deadAt = long.MaxValue;
        var recovered = new double[count];
        var errors = 0;
        var gaps = 0;
        var warm = new CountdownEvent(count);
        var readers = new List<Task>();
        for (var i = 0; i < count; i++)
        {
            await poster.PostMessageAsync(new PostMessageRequest { Room = room, Text = "history" }, headers);
        }

        for (var i = 0; i < count; i++)
        {
            var socket = new ClientWebSocket();
            socket.Options.AddSubProtocol("edgebridge.v1");
            await socket.ConnectAsync(new Uri($"ws://127.0.0.1:{edge.Port}/ws"), cancel.Token);
            await SendAsync(socket, JsonSerializer.Serialize(new { type = "init", token }), cancel.Token);
            await SendAsync(socket, JsonSerializer.Serialize(new { type = "subscribe", id = "r", method = "chat.v1.ChatService/StreamRoom", request = new { room, afterSequence = i.ToString(CultureInfo.InvariantCulture) } }), cancel.Token);
            sockets.Add(socket);
            var index = i;
            recovered[index] = double.NaN;
            readers.Add(Task.Run(async () =>
            {
                var buffer = new byte[64 * 1024];
                // Subscriber i asked for the messages after sequence i.
                long last = index;
                var warmed = false;
                while (double.IsNaN(recovered[index]))
                {
                    var result = await socket.ReceiveAsync(buffer, cancel.Token);
                    using var frame = JsonDocument.Parse(buffer.AsMemory(0, result.Count));
                    var type = frame.RootElement.GetProperty("type").GetString();
                    if (type == "ping")
                    {
                        await SendAsync(socket, "{\"type\":\"pong\"}", cancel.Token);
                        continue;
                    }

                    if (type != "next")
                    {
                        if (type != "ack")
                        {
                            Interlocked.Increment(ref errors);
                        }

                        continue;
                    }

                    var message = frame.RootElement.GetProperty("message").GetProperty("message");
                    var sequence = long.Parse(message.GetProperty("sequence").GetString()!, CultureInfo.InvariantCulture);
                    if (sequence != last + 1)
                    {
                        Interlocked.Increment(ref gaps);
                    }

                    last = sequence;
                    if (!warmed && sequence > count)
                    {
                        warmed = true;
                        warm.Signal();
                    }

                    var text = message.GetProperty("text").GetString()!;
                    if (long.TryParse(text, CultureInfo.InvariantCulture, out var sent) && sent > Volatile.Read(ref deadAt))
                    {
                        recovered[index] = Stopwatch.GetElapsedTime(Volatile.Read(ref killedAt)).TotalMilliseconds;
                    }
                }
            }, cancel.Token));
        }

        using var stopPosting = new CancellationTokenSource();
        var posting = Task.Run(async () =>
        {
            using var pace = new PeriodicTimer(TimeSpan.FromMilliseconds(20));
            while (await pace.WaitForNextTickAsync(stopPosting.Token).AsTask().ContinueWith(t => !t.IsCanceled && t.Result, TaskScheduler.Default))
            {
                await poster.PostMessageAsync(new PostMessageRequest { Room = room, Text = Stopwatch.GetTimestamp().ToString(CultureInfo.InvariantCulture) }, headers);
            }
        });

        // Every subscription streams (live) before the kill.
        while (!warm.Wait(0))
        {
            await Task.Delay(50, cancel.Token);
        }

        await Task.Delay(500, cancel.Token);
        Volatile.Write(ref killedAt, Stopwatch.GetTimestamp());
        victim.Process.Kill(entireProcessTree: true);
        await victim.Process.WaitForExitAsync(cancel.Token);
        Volatile.Write(ref deadAt, Stopwatch.GetTimestamp());
        await Task.WhenAll(readers).WaitAsync(cancel.Token);
        await stopPosting.CancelAsync();
        await posting;
        foreach (var socket in sockets)
        {
            socket.Abort();
            socket.Dispose();
        }

        var sorted = recovered.Order().ToList();
        return (Percentile(sorted, 0.5) , sorted[^1], errors, gaps);
    }

    private static Task SendAsync(ClientWebSocket socket, string text, CancellationToken cancellationToken) =>
        socket.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, endOfMessage: true, cancellationToken);

    private static double Percentile(List<double> sorted, double fraction) =>
        sorted.Count == 0 ? 0 : sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(fraction * sorted.Count) - 1)];

    public static string Markdown(List<Result> results)
    {
        double Median(Func<Result, double> value) => Harness.Median(results.Select(value));
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"## Two replicas on PostgreSQL: cross-replica delivery and failover ({results.Count} rounds, medians)").AppendLine();
        text.AppendLine("Two backend replicas (shipped defaults) on one PostgreSQL 15 database on this machine, the edge in front of both. " +
            "Publish → deliver: a chat message posted over gRPC, timed until it arrives on a StreamRoom stream; the same replica posting and streaming " +
            "is the peer (an in-process wake-up), the cross-replica path adds PostgreSQL's NOTIFY to the other replica and its read of the events table. " +
            "Failover: subscribers of one room through the edge while a message is posted every 20 ms on replica A; replica B is killed with SIGKILL; " +
            "per subscriber, the time from the kill to its receipt of the first message posted after the process was gone.").AppendLine();
        text.AppendLine("| path | messages | p50 ms | p99 ms |");
        text.AppendLine("|---|---|---|---|");
        text.AppendLine(CultureInfo.InvariantCulture, $"| same replica (post on B, stream from B) | {results[0].SameReplica.Messages} | {Median(r => r.SameReplica.P50Micros) / 1000:N2} | {Median(r => r.SameReplica.P99Micros) / 1000:N2} |");
        text.AppendLine(CultureInfo.InvariantCulture, $"| cross-replica (post on A, stream from B) | {results[0].CrossReplica.Messages} | {Median(r => r.CrossReplica.P50Micros) / 1000:N2} | {Median(r => r.CrossReplica.P99Micros) / 1000:N2} |");
        text.AppendLine(CultureInfo.InvariantCulture, $"| ratio cross / same | | {FanOut.Ratio(Median(r => r.CrossReplica.P50Micros), Median(r => r.SameReplica.P50Micros))} | {FanOut.Ratio(Median(r => r.CrossReplica.P99Micros), Median(r => r.SameReplica.P99Micros))} |");
        text.AppendLine();
        text.AppendLine("| failover | subscribers | calls re-opened on A | p50 ms | every subscriber receiving again, ms | error frames | gaps |");
        text.AppendLine("|---|---|---|---|---|---|---|");
        text.AppendLine(CultureInfo.InvariantCulture, $"| replica B killed | {results[0].Subscribers} | {Median(r => r.Reopened):N0} | {Median(r => r.FailoverP50Ms):N0} | {Median(r => r.FailoverMaxMs):N0} | {results.Sum(r => r.ErrorFrames)} | {results.Sum(r => r.Gaps)} |");
        return text.AppendLine().ToString();
    }
}
