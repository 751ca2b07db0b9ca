using System.Buffers;
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

    public static async Task<int> ServeAsync(string system, int port, int grpcPort, string upstream, int restPort)
    {
        var app = system switch
        {
            "backend" => Trading.Backend.BackendApplication.Create(
                new WebApplicationOptions { ContentRootPath = Path.Combine(AppContext.BaseDirectory, "hosts", "backend"), EnvironmentName = "Benchmark" },
                builder => builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
                {
                    ["Kestrel:Endpoints:Rest:Url"] = $"http://127.0.0.1:{restPort}",
                    ["Kestrel:Endpoints:Grpc:Url"] = $"http://127.0.0.1:{grpcPort}",
                    ["Backend:Database:Path"] = Path.Combine(Path.GetTempPath(), $"edgebridge-bench-{grpcPort}.db"),
                    ["Backend:Auth:SigningKey"] = SigningKey,
                    ["Backend:SeedDemoData"] = "true",
                    // 4 symbols ticking every 10 ms, each tick moving every price.
                    ["Backend:Market:TickInterval"] = "00:00:00.010",
                    ["Backend:Market:Volatility"] = "0.01",
                    ["Backend:Market:Symbols:0:Symbol"] = "AAA", ["Backend:Market:Symbols:0:OpenPrice"] = "100",
                    ["Backend:Market:Symbols:1:Symbol"] = "BBB", ["Backend:Market:Symbols:1:OpenPrice"] = "200",
                    ["Backend:Market:Symbols:2:Symbol"] = "CCC", ["Backend:Market:Symbols:2:OpenPrice"] = "300",
                    ["Backend:Market:Symbols:3:Symbol"] = "DDD", ["Backend:Market:Symbols:3:OpenPrice"] = "400",
                    ["Logging:LogLevel:Default"] = "Warning",
                })),
            "edgebridge" => EdgeBridge.Host.EdgeHost.Create(
                new WebApplicationOptions { ContentRootPath = Path.Combine(AppContext.BaseDirectory, "hosts", "edge"), EnvironmentName = "Benchmark" },
                builder => builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
                {
                    ["Kestrel:Endpoints:Http:Url"] = $"http://127.0.0.1:{port}",
                    ["Kestrel:Endpoints:Grpc:Url"] = $"http://127.0.0.1:{grpcPort}",
                    ["ReverseProxy:Clusters:backend-rest:Destinations:backend:Address"] = upstream.Replace(":" + new Uri(upstream).Port, ":" + restPort, StringComparison.Ordinal),
                    ["ReverseProxy:Clusters:backend-grpc:Destinations:backend:Address"] = upstream,
                    ["EdgeBridge:Tokens:SigningKey"] = SigningKey,
                    ["EdgeBridge:WebSockets:MaxConnections"] = "100000",
                    ["EdgeBridge:WebSockets:MaxConnectionsPerAddress"] = "100000",
                    ["Logging:LogLevel:Default"] = "Warning",
                })),
            "raw" => Raw(port, upstream),
            "signalr" => SignalR(port, upstream),
            _ => throw new ArgumentException("unknown system " + system),
        };
        await app.RunAsync();
        return 0;
    }

    private static WebApplication Raw(int port, string upstream)
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

    private static WebApplication SignalR(int port, string upstream)
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
