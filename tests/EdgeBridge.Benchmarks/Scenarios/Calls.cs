using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using EdgeBridge.Benchmarks.Load;

namespace EdgeBridge.Benchmarks.Scenarios;

internal sealed record CallsResult(string Path, int Round, int Calls, int P50Micros, int P99Micros, double BytesPerCall);

/// <summary>
/// An order's round trip: <c>PlaceOrder</c> through the edge as REST (<c>POST /v1/accounts/{id}/orders</c> with a
/// bearer token, keep-alive) against the same method as a <c>call</c> on an open socket. One caller, calls back to
/// back; latency per call and every byte on the client's connection in both directions, per call.
/// </summary>
internal static class Calls
{
    public static async Task<List<CallsResult>> RunAsync(Options options)
    {
        var results = new List<CallsResult>();
        var calls = options.Smoke ? 50 : 2000;
        await using var backend = await Harness.StartBackendAsync(TimeSpan.FromMilliseconds(250));
        await using var edge = await Harness.StartSystemAsync("edgebridge", backend);
        using var login = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{edge.Port}") };
        var answer = await login.PostAsync("/v1/auth/login", new StringContent("""{"username":"alice","password":"wonderland"}""", Encoding.UTF8, "application/json"));
        var token = JsonDocument.Parse(await answer.Content.ReadAsStringAsync()).RootElement.GetProperty("accessToken").GetString()!;
        for (var round = 1; round <= options.Rounds; round++)
        {
            results.Add(await RestAsync(edge.Port, token, round, calls));
            results.Add(await SocketAsync(edge.Port, token, round, calls));
            foreach (var r in results.TakeLast(2))
            {
                Console.Error.WriteLine($"calls round {round} {r.Path,-7}: p50 {r.P50Micros} µs p99 {r.P99Micros} µs, {r.BytesPerCall:N0} bytes/call");
            }
        }

        return results;
    }

    // Buy and sell in turn: the account can afford any number of them.
    private static string Order(int i) =>
        $$"""{"accountId":"acc-alice","symbol":"AAA","side":"{{(i % 2 == 0 ? "ORDER_SIDE_BUY" : "ORDER_SIDE_SELL")}}","quantity":"1","clientOrderId":"bench-{{Guid.NewGuid():N}}"}""";

    private static async Task<CallsResult> RestAsync(int port, string token, int round, int calls)
    {
        var counter = new WireCounter();
        using var http = new HttpClient(counter.Handler(0)) { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        async Task OneAsync(int i)
        {
            using var response = await http.PostAsync("/v1/accounts/acc-alice/orders", new StringContent(Order(i), Encoding.UTF8, "application/json"));
            var body = await response.Content.ReadAsStringAsync();
            if (!response.IsSuccessStatusCode)
            {
                throw new InvalidOperationException($"the order failed: {(int)response.StatusCode} {body}");
            }
        }

        return await MeasureAsync("REST", round, calls, counter, OneAsync);
    }

    private static async Task<CallsResult> SocketAsync(int port, string token, int round, int calls)
    {
        var counter = new WireCounter();
        using var socket = new ClientWebSocket();
        socket.Options.AddSubProtocol("edgebridge.v1");
        socket.Options.KeepAliveInterval = TimeSpan.Zero;
        using var invoker = new HttpMessageInvoker(counter.Handler(0));
        await socket.ConnectAsync(new Uri($"ws://127.0.0.1:{port}/ws"), invoker, CancellationToken.None);
        var buffer = new byte[64 * 1024];
        async Task<string> ReceiveAsync()
        {
            var result = await socket.ReceiveAsync(buffer, CancellationToken.None);
            return Encoding.UTF8.GetString(buffer, 0, result.Count);
        }

        await socket.SendAsync(Encoding.UTF8.GetBytes($$"""{"type":"init","token":"{{token}}"}"""), WebSocketMessageType.Text, true, CancellationToken.None);
        await ReceiveAsync();
        async Task OneAsync(int i)
        {
            var id = "c" + i.ToString(CultureInfo.InvariantCulture);
            await socket.SendAsync(Encoding.UTF8.GetBytes($$"""{"type":"call","id":"{{id}}","method":"trading.v1.TradingService/PlaceOrder","request":{{Order(i)}}}"""),
                WebSocketMessageType.Text, true, CancellationToken.None);
            while (true)
            {
                var frame = await ReceiveAsync();
                if (frame.Contains($"\"id\":\"{id}\"", StringComparison.Ordinal))
                {
                    if (!frame.StartsWith("{\"type\":\"result\"", StringComparison.Ordinal))
                    {
                        throw new InvalidOperationException("the call failed: " + frame);
                    }

                    return;
                }
            }
        }

        var measured = await MeasureAsync("socket", round, calls, counter, OneAsync);
        await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "", CancellationToken.None);
        return measured;
    }

    private static async Task<CallsResult> MeasureAsync(string path, int round, int calls, WireCounter counter, Func<int, Task> call)
    {
        // Warm: connections open, code compiled; then the measured calls, back to back.
        // An even number of them, so that the measured calls start with a buy again.
        var warm = Math.Max(20, calls / 10 / 2 * 2);
        for (var i = 0; i < warm; i++)
        {
            await call(i);
        }

        var latencies = new Latencies();
        var bytesBefore = counter.Bytes;
        for (var i = 0; i < calls; i++)
        {
            var started = Stopwatch.GetTimestamp();
            await call(warm + i);
            latencies.Record(Stopwatch.GetElapsedTime(started));
        }

        return new CallsResult(path, round, calls, latencies.Percentile(50), latencies.Percentile(99), (counter.Bytes - bytesBefore) / (double)calls);
    }

    public static string Markdown(List<CallsResult> results, Options options)
    {
        var medians = results.GroupBy(r => r.Path).Select(g => new CallsResult(g.Key, 0, g.First().Calls, (int)Harness.Median(g.Select(r => (double)r.P50Micros)),
            (int)Harness.Median(g.Select(r => (double)r.P99Micros)), Harness.Median(g.Select(r => r.BytesPerCall)))).ToList();
        var text = new StringBuilder();
        text.AppendLine("## An order's round trip: REST against a call on the socket").AppendLine();
        var count = (medians.FirstOrDefault()?.Calls ?? 0).ToString("N0", CultureInfo.InvariantCulture);
        text.AppendLine("`PlaceOrder` through the edge, one caller, " + count + " calls back to back per round: as REST " +
            "(`POST /v1/accounts/acc-alice/orders`, bearer token, keep-alive) and as a `call` frame on an open, initialised socket. Bytes are " +
            "everything on the client's connection in both directions, per call. Medians over rounds.").AppendLine();
        text.AppendLine("| path | p50 µs | p99 µs | bytes per call |");
        text.AppendLine("|---|---|---|---|");
        foreach (var r in medians)
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"| {r.Path} | {r.P50Micros:N0} | {r.P99Micros:N0} | {r.BytesPerCall:N0} |");
        }

        if (medians.FirstOrDefault(r => r.Path == "socket") is { } socket && medians.FirstOrDefault(r => r.Path == "REST") is { } rest)
        {
            text.AppendLine().AppendLine(CultureInfo.InvariantCulture,
                $"Socket / REST: p50 {FanOut.Ratio(socket.P50Micros, rest.P50Micros)}×, p99 {FanOut.Ratio(socket.P99Micros, rest.P99Micros)}×, bytes {FanOut.Ratio(socket.BytesPerCall, rest.BytesPerCall)}×.");
        }

        return text.AppendLine().ToString();
    }
}
