using System.Buffers;
using System.Globalization;
using System.Net.WebSockets;
using System.Security.Cryptography;
using System.Text;
using System.Threading.Channels;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.SignalR;
using Trading.V1;

namespace EdgeBridge.Benchmarks.Servers;

/// <summary>
/// The systems under test, each run in its own process so that its CPU time and memory can be read from /proc.
/// All of them fan out the same upstream: the trading backend's StreamQuotes gRPC stream.
/// </summary>
internal static class Systems
{
    public const string SigningKey = "ZWRnZWJyaWRnZS1iZW5jaC1zaWduaW5nLWtleS0zMi1ieXRlcyE=";

    /// <summary>Runs one system: <c>serve &lt;system&gt; port=… grpc=… upstream=… rest=… tick=… symbols=…</c>.</summary>
    public static async Task<int> ServeAsync(string system, IReadOnlyDictionary<string, string> settings)
    {
        string Setting(string name, string? otherwise = null) => otherwise is null ? settings[name] : settings.GetValueOrDefault(name, otherwise);
        var app = system switch
        {
            "backend" => Backend(int.Parse(Setting("grpc"), CultureInfo.InvariantCulture), int.Parse(Setting("rest"), CultureInfo.InvariantCulture),
                TimeSpan.Parse(Setting("tick"), CultureInfo.InvariantCulture), int.Parse(Setting("symbols"), CultureInfo.InvariantCulture)),
            "backend-pg" => Replica(int.Parse(Setting("grpc"), CultureInfo.InvariantCulture), int.Parse(Setting("rest"), CultureInfo.InvariantCulture), Setting("db")),
            "edgebridge" => EdgeBridge.Host.EdgeHost.Create(
                new WebApplicationOptions { ContentRootPath = Path.Combine(AppContext.BaseDirectory, "hosts", "edge"), EnvironmentName = "Benchmark" },
                builder => builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>(SecondReplica(settings))
                {
                    ["Kestrel:Endpoints:Http:Url"] = $"http://127.0.0.1:{Setting("port")}",
                    ["Kestrel:Endpoints:Grpc:Url"] = $"http://127.0.0.1:{Setting("grpc")}",
                    ["ReverseProxy:Clusters:backend-rest:Destinations:backend:Address"] = Setting("rest"),
                    ["ReverseProxy:Clusters:backend-grpc:Destinations:backend:Address"] = Setting("upstream"),
                    ["EdgeBridge:Tokens:SigningKey"] = SigningKey,
                    ["EdgeBridge:WebSockets:MaxConnections"] = "100000",
                    ["EdgeBridge:WebSockets:MaxConnectionsPerAddress"] = "100000",
                    // Thousands of clients connect at once from a few addresses; the storm scenario sets its own rate.
                    ["EdgeBridge:WebSockets:Handshakes:PermitsPerSecond"] = Setting("handshakes", "1000000"),
                    ["EdgeBridge:WebSockets:Handshakes:Burst"] = Setting("handshakes", "1000000"),
                    ["EdgeBridge:WebSockets:HandshakesPerAddress:PermitsPerSecond"] = "1000000",
                    ["EdgeBridge:WebSockets:HandshakesPerAddress:Burst"] = "1000000",
                    // Every client connects before any subscribes (so that connecting does not compete with the
                    // stream); at 15k connections that takes longer than the default 10 s init timeout.
                    ["EdgeBridge:WebSockets:InitTimeout"] = "00:05:00",
                    // The load comes from a few addresses, and every poller is the same user: the rate limits stay
                    // on (their cost is measured) but far above what the load generator can send.
                    ["EdgeBridge:Rest:PerAddress:PermitsPerSecond"] = "1000000",
                    ["EdgeBridge:Rest:PerAddress:Burst"] = "1000000",
                    ["EdgeBridge:Rest:PerUser:PermitsPerSecond"] = "1000000",
                    ["EdgeBridge:Rest:PerUser:Burst"] = "1000000",
                    // The calls scenario sends a call frame per round trip, back to back.
                    ["EdgeBridge:WebSockets:MaxInboundFramesPerSecond"] = "1000000",
                    ["EdgeBridge:WebSockets:InboundFrameBurst"] = "1000000",
                    ["EdgeBridge:Grpc:PerAddress:PermitsPerSecond"] = "1000000",
                    ["EdgeBridge:Grpc:PerAddress:Burst"] = "1000000",
                    ["EdgeBridge:Grpc:PerUser:PermitsPerSecond"] = "1000000",
                    ["EdgeBridge:Grpc:PerUser:Burst"] = "1000000",
                    ["EdgeBridge:Upstream:MaxCallsPerAddress"] = "100000",
                    ["EdgeBridge:Upstream:MaxCallsPerUser"] = "100000",
                    ["Logging:LogLevel:Default"] = "Warning",
                }).AddInMemoryCollection(ConfigurationKeys(settings))),
            "raw" => Raw(Setting("port"), Setting("upstream")),
            "yarp" => PlainYarp(Setting("port"), Setting("grpc"), Setting("rest"), Setting("upstream")),
            "signalr" => SignalR(Setting("port"), Setting("upstream")),
            _ => throw new ArgumentException("unknown system " + system),
        };

        // Every system reports its managed heap after a full collection, for the idle-memory scenario. The last
        // collection is aggressive: it also returns the memory the connection burst left free to the OS, so the
        // RSS read next is what the idle server settles at, not the garbage of how fast its clients arrived.
        app.MapGet("/_bench/heap", static () =>
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
            return GC.GetTotalMemory(forceFullCollection: true).ToString(CultureInfo.InvariantCulture);
        });
        // Which types the process allocates, sampled by the runtime (one event per ~100 KB): for finding where a
        // request's bytes go. Listening costs nothing until asked for with /_bench/allocations?start.
        app.MapGet("/_bench/allocations", static (HttpContext context) => AllocationSampler.Report(context.Request.Query.ContainsKey("start")));
        // Bytes allocated so far (every thread), for the load command's allocations per request.
        app.MapGet("/_bench/allocated", static () => GC.GetTotalAllocatedBytes(precise: true).ToString(CultureInfo.InvariantCulture));
        await app.RunAsync();
        return 0;
    }

    private static readonly string[] s_symbols = ["AAA", "BBB", "CCC", "DDD"];

    // The cluster scenario's edge fronts two replicas: the second one's addresses, when given.
    // A setting named like a configuration key (with a ':') goes into the system's configuration as it is.
    private static IEnumerable<KeyValuePair<string, string?>> ConfigurationKeys(IReadOnlyDictionary<string, string> settings) =>
        settings.Where(p => p.Key.Contains(':', StringComparison.Ordinal)).Select(p => KeyValuePair.Create(p.Key, (string?)p.Value));

    private static Dictionary<string, string?> SecondReplica(IReadOnlyDictionary<string, string> settings) =>
        settings.TryGetValue("upstream2", out var grpc) && settings.TryGetValue("rest2", out var rest)
            ? new()
            {
                ["ReverseProxy:Clusters:backend-rest:Destinations:replica-2:Address"] = rest,
                ["ReverseProxy:Clusters:backend-grpc:Destinations:replica-2:Address"] = grpc,
            }
            : [];

    /// <summary>A trading backend replica on the PostgreSQL database <paramref name="connectionString"/>, with the shipped defaults.</summary>
    private static WebApplication Replica(int grpcPort, int restPort, string connectionString) => Trading.Backend.BackendApplication.Create(
        new WebApplicationOptions { ContentRootPath = Path.Combine(AppContext.BaseDirectory, "hosts", "backend"), EnvironmentName = "Benchmark" },
        builder => builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Kestrel:Endpoints:Rest:Url"] = $"http://127.0.0.1:{restPort}",
            ["Kestrel:Endpoints:Grpc:Url"] = $"http://127.0.0.1:{grpcPort}",
            ["Backend:Database:Provider"] = "PostgreSql",
            ["Backend:Database:ConnectionString"] = connectionString,
            ["Backend:Auth:SigningKey"] = SigningKey,
            ["Backend:SeedDemoData"] = "true",
            ["Logging:LogLevel:Default"] = "Warning",
        }));

    private static WebApplication Backend(int grpcPort, int restPort, TimeSpan tick, int symbols)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Kestrel:Endpoints:Rest:Url"] = $"http://127.0.0.1:{restPort}",
            ["Kestrel:Endpoints:Grpc:Url"] = $"http://127.0.0.1:{grpcPort}",
            ["Backend:Database:Path"] = Path.Combine(Path.GetTempPath(), $"edgebridge-bench-{grpcPort}.db"),
            ["Backend:Auth:SigningKey"] = SigningKey,
            ["Backend:SeedDemoData"] = "true",
            // Every tick moves every price, so each tick publishes one message per symbol.
            ["Backend:Market:TickInterval"] = tick.ToString("c", CultureInfo.InvariantCulture),
            ["Backend:Market:Volatility"] = "0.01",
            ["Logging:LogLevel:Default"] = "Warning",
        };
        for (var i = 0; i < symbols; i++)
        {
            settings[$"Backend:Market:Symbols:{i}:Symbol"] = s_symbols[i];
            settings[$"Backend:Market:Symbols:{i}:OpenPrice"] = Harness.Invariant(100 * (i + 1));
        }

        return Trading.Backend.BackendApplication.Create(
            new WebApplicationOptions { ContentRootPath = Path.Combine(AppContext.BaseDirectory, "hosts", "backend"), EnvironmentName = "Benchmark" },
            builder => builder.Configuration.AddInMemoryCollection(settings));
    }

    /// <summary>
    /// The peer a team would pick instead of the edge for REST and gRPC: a plain YARP hop, as its documentation
    /// shows it, with the same routes and clusters as the edge and nothing else.
    /// </summary>
    private static WebApplication PlainYarp(string port, string grpcPort, string rest, string upstream)
    {
        var builder = WebApplication.CreateBuilder();
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.Listen(System.Net.IPAddress.Loopback, int.Parse(port, CultureInfo.InvariantCulture), listen => listen.Protocols = Microsoft.AspNetCore.Server.Kestrel.Core.HttpProtocols.Http1);
            kestrel.Listen(System.Net.IPAddress.Loopback, int.Parse(grpcPort, CultureInfo.InvariantCulture), listen => listen.Protocols = Microsoft.AspNetCore.Server.Kestrel.Core.HttpProtocols.Http2);
        });
        builder.Services.AddReverseProxy().LoadFromMemory(
        [
            new Yarp.ReverseProxy.Configuration.RouteConfig
            {
                RouteId = "grpc",
                ClusterId = "backend-grpc",
                Match = new() { Path = "/{**path}", Headers = [new() { Name = "content-type", Values = ["application/grpc"], Mode = Yarp.ReverseProxy.Configuration.HeaderMatchMode.HeaderPrefix }] },
            },
            new Yarp.ReverseProxy.Configuration.RouteConfig { RouteId = "rest", ClusterId = "backend-rest", Match = new() { Path = "/v1/{**path}" } },
        ],
        [
            new Yarp.ReverseProxy.Configuration.ClusterConfig
            {
                ClusterId = "backend-rest",
                HttpRequest = new() { Version = System.Net.HttpVersion.Version11, VersionPolicy = HttpVersionPolicy.RequestVersionExact },
                Destinations = new Dictionary<string, Yarp.ReverseProxy.Configuration.DestinationConfig> { ["backend"] = new() { Address = rest } },
            },
            new Yarp.ReverseProxy.Configuration.ClusterConfig
            {
                ClusterId = "backend-grpc",
                HttpRequest = new() { Version = System.Net.HttpVersion.Version20, VersionPolicy = HttpVersionPolicy.RequestVersionExact },
                HttpClient = new() { EnableMultipleHttp2Connections = true },
                Destinations = new Dictionary<string, Yarp.ReverseProxy.Configuration.DestinationConfig> { ["backend"] = new() { Address = upstream } },
            },
        ]);
        var app = builder.Build();
        app.MapReverseProxy();
        return app;
    }

    private static WebApplication Raw(string port, string upstream)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.WebHost.UseUrls($"http://127.0.0.1:{port}");
        builder.Services.AddSingleton<RawBroadcaster>();
        builder.Services.AddHostedService(sp => new UpstreamReader(upstream, json => sp.GetRequiredService<RawBroadcaster>().Publish(json)));
        var app = builder.Build();
        app.Map("/ws", context => context.RequestServices.GetRequiredService<RawBroadcaster>().AcceptAsync(context));
        return app;
    }

    private static WebApplication SignalR(string port, string upstream)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.WebHost.UseUrls($"http://127.0.0.1:{port}");
        builder.Services.AddSignalR();
        builder.Services.AddHostedService(sp =>
        {
            var hub = sp.GetRequiredService<IHubContext<QuotesHub>>();
            // What a .NET team would write: forward each message of the gRPC stream to a hub group.
            return new UpstreamReader(upstream, json => _ = hub.Clients.Group("quotes").SendAsync("next", Encoding.UTF8.GetString(json)));
        });
        var app = builder.Build();
        app.MapHub<QuotesHub>("/hub");
        return app;
    }
}

internal sealed class QuotesHub : Hub
{
    public Task Join() => Groups.AddToGroupAsync(Context.ConnectionId, "quotes");
}

/// <summary>Reads StreamQuotes from the backend and hands each message, formatted once, to a sink.</summary>
internal sealed class UpstreamReader(string upstream, Action<byte[]> sink) : BackgroundService
{
    private static readonly Google.Protobuf.JsonFormatter s_json = new(Google.Protobuf.JsonFormatter.Settings.Default.WithFormatDefaultValues(true));

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var channel = GrpcChannel.ForAddress(upstream);
        var client = new MarketDataService.MarketDataServiceClient(channel);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                using var call = client.StreamQuotes(new StreamQuotesRequest(), cancellationToken: stoppingToken);
                while (await call.ResponseStream.MoveNext(stoppingToken))
                {
                    sink(Encoding.UTF8.GetBytes("{\"type\":\"next\",\"id\":\"q\",\"message\":" + s_json.Format(call.ResponseStream.Current) + "}"));
                }
            }
            catch (Exception) when (!stoppingToken.IsCancellationRequested)
            {
                await Task.Delay(200, stoppingToken);
            }
        }
    }
}

/// <summary>
/// The raw limit: frames are built once, each socket has a bounded queue (drop-oldest), and a writer that
/// batches everything queued into one write per socket.
/// </summary>
internal sealed class RawBroadcaster
{
    private readonly Lock _lock = new();
    private Channel<byte[]>[] _sockets = [];

    public void Publish(byte[] payload)
    {
        var frame = Frame(payload);
        foreach (var socket in Volatile.Read(ref _sockets))
        {
            socket.Writer.TryWrite(frame);
        }
    }

    public async Task AcceptAsync(HttpContext context)
    {
        var key = context.Request.Headers["Sec-WebSocket-Key"].ToString();
        var upgrade = context.Features.Get<IHttpUpgradeFeature>();
        if (key.Length == 0 || upgrade is not { IsUpgradableRequest: true })
        {
            context.Response.StatusCode = 400;
            return;
        }

        // SHA-1 is what RFC 6455 prescribes for the accept key; it protects nothing.
#pragma warning disable CA5350
        context.Response.Headers["Sec-WebSocket-Accept"] = Convert.ToBase64String(SHA1.HashData(Encoding.ASCII.GetBytes(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")));
#pragma warning restore CA5350
        context.Response.Headers.Connection = "Upgrade";
        context.Response.Headers.Upgrade = "websocket";
        await using var stream = await upgrade.UpgradeAsync();
        var queue = Channel.CreateBounded<byte[]>(new BoundedChannelOptions(256) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true });
        lock (_lock)
        {
            _sockets = [.. _sockets, queue];
        }

        using var done = new CancellationTokenSource();
        var reader = Task.Run(async () =>
        {
            var scratch = new byte[512];
            try
            {
                while (await stream.ReadAsync(scratch, done.Token) > 0)
                {
                }
            }
            catch (Exception)
            {
            }

            queue.Writer.TryComplete();
        });
        var batch = new ArrayBufferWriter<byte>(4096);
        try
        {
            while (await queue.Reader.WaitToReadAsync())
            {
                batch.ResetWrittenCount();
                while (queue.Reader.TryRead(out var frame))
                {
                    batch.Write(frame);
                }

                await stream.WriteAsync(batch.WrittenMemory);
                await stream.FlushAsync();
            }
        }
        catch (Exception)
        {
        }
        finally
        {
            lock (_lock)
            {
                _sockets = [.. _sockets.Where(s => s != queue)];
            }

            await done.CancelAsync();
            await reader;
        }
    }

    /// <summary>An unmasked server text frame.</summary>
    private static byte[] Frame(byte[] payload)
    {
        var header = payload.Length < 126 ? 2 : payload.Length <= ushort.MaxValue ? 4 : 10;
        var frame = new byte[header + payload.Length];
        frame[0] = 0x81;
        if (header == 2)
        {
            frame[1] = (byte)payload.Length;
        }
        else if (header == 4)
        {
            frame[1] = 126;
            frame[2] = (byte)(payload.Length >> 8);
            frame[3] = (byte)payload.Length;
        }
        else
        {
            frame[1] = 127;
            System.Buffers.Binary.BinaryPrimitives.WriteInt64BigEndian(frame.AsSpan(2), payload.Length);
        }

        payload.CopyTo(frame, header);
        return frame;
    }
}

/// <summary>Counts the runtime's allocation-tick events by type name (bench diagnostics only).</summary>
internal sealed class AllocationSampler : System.Diagnostics.Tracing.EventListener
{
    private static AllocationSampler? s_current;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, long> _bytes = new(StringComparer.Ordinal);

    public static string Report(bool start)
    {
        if (start)
        {
            s_current?.Dispose();
            s_current = new AllocationSampler();
            return "started";
        }

        var current = s_current;
        if (current is null)
        {
            return "not started";
        }

        var total = current._bytes.Values.Sum();
        return string.Join('\n', current._bytes.OrderByDescending(p => p.Value).Take(60)
            .Select(p => string.Create(CultureInfo.InvariantCulture, $"{100.0 * p.Value / total,6:F2}% {p.Key}")));
    }

    protected override void OnEventSourceCreated(System.Diagnostics.Tracing.EventSource source)
    {
        if (source.Name == "Microsoft-Windows-DotNETRuntime")
        {
            EnableEvents(source, System.Diagnostics.Tracing.EventLevel.Verbose, (System.Diagnostics.Tracing.EventKeywords)0x1);
        }
    }

    protected override void OnEventWritten(System.Diagnostics.Tracing.EventWrittenEventArgs e)
    {
        if (e.EventName?.StartsWith("GCAllocationTick", StringComparison.Ordinal) == true && e.Payload is { } payload && e.PayloadNames is { } names)
        {
            var type = payload[names.IndexOf("TypeName")] as string ?? "?";
            var amount = Convert.ToInt64(payload[names.IndexOf("AllocationAmount64")], CultureInfo.InvariantCulture);
            _bytes.AddOrUpdate(type, amount, (_, sum) => sum + amount);
        }
    }
}
