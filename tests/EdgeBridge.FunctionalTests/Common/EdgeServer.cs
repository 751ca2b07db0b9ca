using EdgeBridge.Host;

namespace EdgeBridge.FunctionalTests.Common;

/// <summary>The real edge host on loopback, configured by the shipped appsettings.json with the backend's ports.</summary>
public sealed class EdgeServer : IAsyncDisposable
{
    private WebApplication? _app;
    private BackendServer? _backend;
    private IDictionary<string, string?>? _settings;

    public int HttpPort { get; private set; }

    public int GrpcPort { get; private set; }

    public string HttpAddress => $"http://127.0.0.1:{HttpPort}";

    public string GrpcAddress => $"http://127.0.0.1:{GrpcPort}";

    public IServiceProvider Services => _app!.Services;

    /// <summary>Where the edge reads appsettings.json from; a test may point it at a copy it edits.</summary>
    public string ContentRoot { get; set; } = Path.Combine(AppContext.BaseDirectory, "hosts", "edge");

    /// <summary>Runs on the host's services before it is built, on every start (e.g. a test's span exporter).</summary>
    public Action<IServiceCollection>? ConfigureServices { get; set; }

    public async Task StartAsync(BackendServer backend, IDictionary<string, string?>? settings = null)
    {
        _backend = backend;
        _settings = settings;
        _app = EdgeHost.Create(
            new WebApplicationOptions { ContentRootPath = ContentRoot },
            builder =>
            {
                builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
                {
                    // A restart comes back on the same ports, as a restarted edge behind a fixed address would.
                    ["Kestrel:Endpoints:Http:Url"] = $"http://127.0.0.1:{HttpPort}",
                    ["Kestrel:Endpoints:Grpc:Url"] = $"http://127.0.0.1:{GrpcPort}",
                    ["ReverseProxy:Clusters:backend-rest:Destinations:backend:Address"] = backend.RestAddress,
                    ["ReverseProxy:Clusters:backend-grpc:Destinations:backend:Address"] = backend.GrpcAddress,
                    ["EdgeBridge:Tokens:SigningKey"] = BackendServer.SigningKey,

                    // Fixtures stop their edges with sockets open: they close at once unless a test is about the drain.
                    ["EdgeBridge:WebSockets:DrainPeriod"] = "00:00:00",

                    // Tests open sockets from one address faster than any client would; the admission tests set their own.
                    ["EdgeBridge:WebSockets:HandshakesPerAddress:PermitsPerSecond"] = "100000",
                    ["EdgeBridge:WebSockets:HandshakesPerAddress:Burst"] = "100000",
                    ["Logging:LogLevel:Default"] = Environment.GetEnvironmentVariable("EDGE_TEST_LOGLEVEL") ?? "Warning",
                });
                if (settings is not null)
                {
                    builder.Configuration.AddInMemoryCollection(settings);
                }

                ConfigureServices?.Invoke(builder.Services);
            });
        await _app.StartAsync();
        // The edge knows its listeners (EdgeBridge:Listeners) and where they were bound.
        var listeners = _app.Services.GetRequiredService<EdgeBridge.Listeners.EdgeListeners>();
        HttpPort = listeners.Port("Http");
        GrpcPort = listeners.Port("Grpc");
    }

    /// <summary>Starts again after <see cref="StopAsync"/>, on the same ports with the same settings.</summary>
    public Task RestartAsync() => StartAsync(_backend!, _settings);

    public async Task StopAsync()
    {
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
            _app = null;
        }
    }

    public ValueTask DisposeAsync() => new(StopAsync());
}
