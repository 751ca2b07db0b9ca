using System.Text.Json;
using Grpc.HealthCheck;
using Trading.Backend.Chat;
using Trading.Backend.Feed;
using Trading.Backend.Hosting;
using Trading.Backend.Identity;
using Trading.Backend.Market;
using Trading.Backend.Storage;
using Trading.Backend.Storage.PostgreSql;
using Trading.Backend.Trading;

namespace Trading.Backend;

/// <summary>Builds the trading backend: gRPC services, their REST transcoding, health and reflection.</summary>
public static class BackendApplication
{
    /// <summary>Creates the application; <paramref name="configure"/> lets hosts and tests adjust the builder first.</summary>
    public static WebApplication Create(string[] args, Action<WebApplicationBuilder>? configure = null) =>
        Create(new WebApplicationOptions { Args = args }, configure);

    public static WebApplication Create(WebApplicationOptions options, Action<WebApplicationBuilder>? configure = null)
    {
        var builder = WebApplication.CreateBuilder(options);
        configure?.Invoke(builder);

        builder.AddBackendTelemetry();
        builder.Services.AddOptions<BackendOptions>().Bind(builder.Configuration.GetSection(BackendOptions.SectionName));
        builder.Services.AddSingleton(TimeProvider.System);
        AddDatabase(builder);
        builder.Services.AddSingleton<DatabaseEventFeed>();
        builder.Services.AddSingleton<IEventFeed>(sp => sp.GetRequiredService<DatabaseEventFeed>());
        builder.Services.AddSingleton<SigningKeySource>();
        builder.Services.AddSingleton<TokenService>();
        builder.Services.AddSingleton<UserStore>();
        builder.Services.AddSingleton<RefreshTokens>();
        builder.Services.AddSingleton<LoginFailures>();
        builder.Services.AddSingleton<QuoteBook>();
        builder.Services.AddSingleton<OrderBook>();
        builder.Services.AddSingleton<ChatRooms>();
        builder.Services.AddSingleton<ChatPresence>();
        builder.Services.AddSingleton<StreamLifetime>();
        builder.Services.AddHostedService<MarketSimulator>();

        builder.Services
            .AddGrpc(grpc => grpc.EnableDetailedErrors = builder.Environment.IsDevelopment())
            // Our services answer UNAVAILABLE while the database is away; health and reflection keep answering.
            .AddServiceOptions<AuthGrpcService>(o => o.Interceptors.Add<DatabaseUnavailableInterceptor>())
            .AddServiceOptions<MarketDataGrpcService>(o => o.Interceptors.Add<DatabaseUnavailableInterceptor>())
            .AddServiceOptions<TradingGrpcService>(o => o.Interceptors.Add<DatabaseUnavailableInterceptor>())
            .AddServiceOptions<ChatGrpcService>(o => o.Interceptors.Add<DatabaseUnavailableInterceptor>())
            .AddJsonTranscoding(transcoding =>
            {
                // Canonical proto3 JSON: 64-bit integers as strings, as every other EdgeBridge transport writes them.
                transcoding.JsonSettings.WriteInt64sAsStrings = true;

                // Error details (google.rpc.ResourceInfo, BadRequest, ...) are Any values; without their types
                // the REST error body cannot be written at all.
                transcoding.TypeRegistry = Google.Protobuf.Reflection.TypeRegistry.FromFiles(Google.Rpc.ErrorDetailsReflection.Descriptor);
            });
        builder.Services.AddGrpcReflection();
        builder.Services.AddGrpcHealthChecks()
            .AddCheck<DatabaseHealthCheck>("database");

        var app = builder.Build();

        // Fail at startup, not on the first login, when no signing key can be had.
        app.Services.GetRequiredService<TokenService>();

        app.MapGrpcService<AuthGrpcService>();
        app.MapGrpcService<MarketDataGrpcService>();
        app.MapGrpcService<TradingGrpcService>();
        app.MapGrpcService<ChatGrpcService>();
        app.MapGrpcHealthChecksService();
        app.MapGrpcReflectionService();

        // The same checks over plain HTTP, for the edge's active health checks (YARP probes with GET) and for
        // orchestrators: /healthz while the process runs, /readyz while the database answers.
        app.MapHealthChecks("/healthz", new Microsoft.AspNetCore.Diagnostics.HealthChecks.HealthCheckOptions { Predicate = static _ => false });
        app.MapHealthChecks("/readyz");

        // Paths no http rule matches answer like every other REST error: a google.rpc.Status body.
        app.MapFallback(context =>
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            context.Response.ContentType = "application/json";
            return context.Response.WriteAsync(JsonSerializer.Serialize(new
            {
                code = 5,
                message = $"No REST route matches {context.Request.Method} {context.Request.Path}.",
                details = Array.Empty<object>(),
            }));
        });

        return app;
    }

    // The store, and what several replicas on one engine need besides: the market lease, quote replication and
    // the commit notifications. The schema is created, and demo data seeded, by DatabaseStartup before Kestrel listens.
    private static void AddDatabase(WebApplicationBuilder builder)
    {
        var provider = builder.Configuration.GetSection(BackendOptions.SectionName).GetValue<DatabaseProvider?>("Database:Provider") ?? DatabaseProvider.Sqlite;
        switch (provider)
        {
            case DatabaseProvider.Sqlite:
                builder.Services.AddSingleton<Database, SqliteDatabase>();
                builder.Services.AddSingleton<IMarketLease, ProcessMarketLease>();
                builder.Services.AddSingleton<IQuoteReplication, NoQuoteReplication>();
                break;
            case DatabaseProvider.PostgreSql:
                builder.Services.AddSingleton<PostgresDatabase>();
                builder.Services.AddSingleton<Database>(sp => sp.GetRequiredService<PostgresDatabase>());
                builder.Services.AddSingleton<IMarketLease, PostgresMarketLease>();
                builder.Services.AddSingleton<PostgresQuoteReplication>();
                builder.Services.AddSingleton<IQuoteReplication>(sp => sp.GetRequiredService<PostgresQuoteReplication>());
                builder.Services.AddHostedService<PostgresNotificationListener>();
                break;
            default:
                throw new InvalidOperationException($"Backend:Database:Provider must be Sqlite or PostgreSql; got '{provider}'.");
        }

        builder.Services.AddSingleton<DatabaseUnavailableInterceptor>();
        builder.Services.AddHostedService<DatabaseStartup>();
    }
}
