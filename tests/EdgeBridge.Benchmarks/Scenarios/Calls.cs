using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
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
        var counter = new ByteCounter();
        using var http = new HttpClient(new SocketsHttpHandler { ConnectCallback = counter.ConnectAsync }) { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
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
        var counter = new ByteCounter();
        using var socket = new ClientWebSocket();
        socket.Options.AddSubProtocol("edgebridge.v1");
        socket.Options.KeepAliveInterval = TimeSpan.Zero;
        using var invoker = new HttpMessageInvoker(new SocketsHttpHandler { ConnectCallback = counter.ConnectAsync });
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

    private static async Task<CallsResult> MeasureAsync(string path, int round, int calls, ByteCounter counter, Func<int, Task> call)
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

    /// <summary>Counts the bytes of every connection it opens, both ways.</summary>
    private sealed class ByteCounter
    {
        private long _bytes;

        public long Bytes => Interlocked.Read(ref _bytes);

        public async ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, CancellationToken cancellationToken)
        {
            var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            await socket.ConnectAsync(context.DnsEndPoint, cancellationToken);
            return new Counting(new NetworkStream(socket, ownsSocket: true), this);
        }

        private sealed class Counting(Stream inner, ByteCounter counter) : Stream
        {
            public override bool CanRead => true;
            public override bool CanSeek => false;
            public override bool CanWrite => true;
            public override long Length => throw new NotSupportedException();
            public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
            public override void Flush() => inner.Flush();
            public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);
            public override int Read(byte[] buffer, int offset, int count) => Add(inner.Read(buffer, offset, count));
            public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => Add(await inner.ReadAsync(buffer, cancellationToken));
            public override void Write(byte[] buffer, int offset, int count)
            {
                Add(count);
                inner.Write(buffer, offset, count);
            }

            public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
            {
                Add(buffer.Length);
                return inner.WriteAsync(buffer, cancellationToken);
            }

            public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
            public override void SetLength(long value) => throw new NotSupportedException();

            protected override void Dispose(bool disposing)
            {
                if (disposing)
                {
                    inner.Dispose();
                }

                base.Dispose(disposing);
            }

            private int Add(int count)
            {
                Interlocked.Add(ref counter._bytes, count);
                return count;
            }
        }
    }
}
