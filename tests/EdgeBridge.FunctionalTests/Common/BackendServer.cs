using Trading.Backend;

namespace EdgeBridge.FunctionalTests.Common;

/// <summary>The real trading backend on loopback, with its own SQLite file; can be stopped and restarted on the same ports.</summary>
public sealed class BackendServer : IAsyncDisposable
{
    public const string SigningKey = "ZWRnZWJyaWRnZS10ZXN0LXNpZ25pbmcta2V5LTMyLWJ5dGVzISE=";

    private readonly string _directory;
    private WebApplication? _app;

    public BackendServer(string? directory = null)
    {
        _directory = directory ?? Path.Combine(Path.GetTempPath(), "edgebridge-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_directory);
    }

    public string DatabasePath => Path.Combine(_directory, "trading.db");

    public int RestPort { get; private set; }

    public int GrpcPort { get; private set; }

    public string RestAddress => $"http://127.0.0.1:{RestPort}";

    public string GrpcAddress => $"http://127.0.0.1:{GrpcPort}";

    public IServiceProvider Services => _app!.Services;

    /// <summary>Sees every server-streaming call the backend serves; kept across restarts.</summary>
    public CallRecorder Calls { get; } = new();

    /// <summary>Starts the backend; after a <see cref="StopAsync"/> it comes back on the same ports and database.</summary>
    public async Task StartAsync(IDictionary<string, string?>? settings = null)
    {
        var ports = new KestrelPorts();
        _app = BackendApplication.Create(
            new WebApplicationOptions
            {
                ContentRootPath = Path.Combine(AppContext.BaseDirectory, "hosts", "backend"),
                EnvironmentName = "Demo",
            },
            builder =>
            {
                builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
                {
                    ["Kestrel:Endpoints:Rest:Url"] = $"http://127.0.0.1:{RestPort}",
                    ["Kestrel:Endpoints:Grpc:Url"] = $"http://127.0.0.1:{GrpcPort}",
                    ["Backend:Database:Path"] = DatabasePath,
                    ["Backend:Auth:SigningKey"] = SigningKey,
                    ["Backend:Market:TickInterval"] = "00:00:00.050",
                    ["Logging:LogLevel:Default"] = "Warning",
                });
                if (settings is not null)
                {
                    builder.Configuration.AddInMemoryCollection(settings);
                }

                builder.WebHost.ConfigureKestrel((context, kestrel) => ports.Capture(kestrel, context.Configuration, "Rest", "Grpc"));
                builder.Services.AddSingleton(Calls);
                builder.Services.Configure<Grpc.AspNetCore.Server.GrpcServiceOptions>(grpc => grpc.Interceptors.Add<CallRecorder>());
            });
        await _app.StartAsync();
        RestPort = ports.Port("Rest");
        GrpcPort = ports.Port("Grpc");
    }

    public async Task StopAsync()
    {
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
            _app = null;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
            // A file still held open is left to the OS's temp cleanup.
        }
    }
}
