using EdgeBridge.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.FileProviders;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace EdgeBridge.Tests.Hosting;

public sealed class EdgeBridgeOptionsTests
{
    private const string Key = "ZWRnZWJyaWRnZS10ZXN0LXNpZ25pbmcta2V5LTMyLWJ5dGVzISE=";

    private static EdgeBridgeOptions Valid() => new()
    {
        Tokens = new TokenOptions { Issuer = "i", Audience = "a", SigningKey = Key },
    };

    private static ValidateOptionsResult Validate(EdgeBridgeOptions options) =>
        new EdgeBridgeOptionsValidator(new Environment()).Validate(null, options);

    [Fact]
    public void Defaults_WithATokenKey_AreValid() => Assert.True(Validate(Valid()).Succeeded);

    public static TheoryData<string, Action<EdgeBridgeOptions>> BadSettings => new()
    {
        { "EdgeBridge:WebSockets:MaxFrameBytes", o => o.WebSockets.MaxFrameBytes = 0 },
        { "EdgeBridge:WebSockets:Path", o => o.WebSockets.Path = "ws" },
        { "EdgeBridge:WebSockets:KeepAliveTimeout", o => o.WebSockets.KeepAliveTimeout = TimeSpan.Zero },
        { "EdgeBridge:WebSockets:DefaultQueueLimit", o => o.WebSockets.DefaultQueueLimit = o.WebSockets.MaxQueueLimit + 1 },
        { "EdgeBridge:WebSockets:ForwardedMetadata", o => o.WebSockets.ForwardedMetadata.Add("Authorization") },
        { "EdgeBridge:WebSockets:ForwardedMetadata", o => o.WebSockets.ForwardedMetadata.Add("x-edgebridge-user") },
        { "EdgeBridge:WebSockets:ForwardedMetadata", o => o.WebSockets.ForwardedMetadata.Add("trace-bin") },
        { "EdgeBridge:WebSockets:MaxMetadataBytes", o => o.WebSockets.MaxMetadataBytes = 0 },
        { "EdgeBridge:Rest:PerAddress:PermitsPerSecond", o => o.Rest.PerAddress.PermitsPerSecond = -1 },
        { "EdgeBridge:Grpc:MaxMessageBytes", o => o.Grpc.MaxMessageBytes = 0 },
        { "EdgeBridge:Upstream:MaxCallsPerAddress", o => o.Upstream.MaxCallsPerAddress = 0 },
        { "EdgeBridge:Upstream:GrpcCluster", o => o.Upstream.GrpcCluster = " " },
        { "EdgeBridge:Logins:PerUser:Window", o => o.Logins.PerUser = new FailureLimit { Failures = 3, Window = TimeSpan.Zero } },
        { "EdgeBridge:Tokens:Issuer", o => o.Tokens.Issuer = "" },
        { "EdgeBridge:Tokens:SigningKey", o => o.Tokens.SigningKey = "" },
        { "EdgeBridge:Tokens:SigningKey", o => o.Tokens.SigningKey = Convert.ToBase64String(new byte[16]) },
        { "EdgeBridge:Tokens:SigningKeyFile", o => (o.Tokens.SigningKey, o.Tokens.SigningKeyFile) = ("", "/nonexistent/signing.key") },
        { "EdgeBridge:Browser:AllowedOrigins", o => o.Browser.AllowedOrigins.Add("https://app.example/path") },
        { "EdgeBridge:Listeners:Grpc:Roles", o => o.Listeners["Grpc"] = new EdgeListenerOptions { Roles = EdgeListenerRoles.None } },
        { "EdgeBridge:Listeners:Grpc:DirectUpgrade", o => o.Listeners["Grpc"] = new EdgeListenerOptions { Roles = EdgeListenerRoles.Grpc, DirectUpgrade = true } },
        { "EdgeBridge:Listeners:Http:TrustedProxies", o => o.Listeners["Http"] = new EdgeListenerOptions { Roles = EdgeListenerRoles.Browser, ProxyProtocol = true } },
        { "EdgeBridge:Listeners:Http:TrustedProxies", o => o.Listeners["Http"] = new EdgeListenerOptions { Roles = EdgeListenerRoles.Browser, ProxyProtocol = true, TrustedProxies = ["10.0.0.0/33"] } },
        { "EdgeBridge:Listeners:Http:TrustedProxies", o => o.Listeners["Http"] = new EdgeListenerOptions { Roles = EdgeListenerRoles.Browser, ProxyProtocol = true, TrustedProxies = ["balancer.local"] } },
    };

    [Theory]
    [MemberData(nameof(BadSettings))]
    public void BadSetting_FailsValidation_NamingItsKey(string key, Action<EdgeBridgeOptions> spoil)
    {
        var options = Valid();
        spoil(options);

        var result = Validate(options);

        Assert.True(result.Failed);
        Assert.Contains(result.Failures!, failure => failure.Contains(key, StringComparison.Ordinal));
    }

    [Fact]
    public void DisabledTokens_NeedNoKey()
    {
        var options = new EdgeBridgeOptions { Tokens = new TokenOptions { Enabled = false } };

        Assert.True(Validate(options).Succeeded);
    }

    [Fact]
    public void AddEdgeBridge_CodeAfterConfiguration_WinsAndIsValidated()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["EdgeBridge:Tokens:Issuer"] = "i",
            ["EdgeBridge:Tokens:Audience"] = "a",
            ["EdgeBridge:Tokens:SigningKey"] = Key,
            ["EdgeBridge:WebSockets:MaxSubscriptionsPerConnection"] = "7",
            ["EdgeBridge:Listeners:Grpc:Roles"] = "Grpc",
        }).Build();
        using var services = Services(s => s.AddEdgeBridge(configuration, o => o.WebSockets.MaxConnections = 12));

        var options = services.GetRequiredService<IOptions<EdgeBridgeOptions>>().Value;

        Assert.Equal((7, 12), (options.WebSockets.MaxSubscriptionsPerConnection, options.WebSockets.MaxConnections));
        Assert.Equal(EdgeListenerRoles.Grpc, options.Listeners["grpc"].Roles);
    }

    [Fact]
    public void ListenerWithAMisspeltRole_IsNotDroppedSilently()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["EdgeBridge:Tokens:Enabled"] = "false",
            ["EdgeBridge:Listeners:Grpc:Roles"] = "Grcp",
        }).Build();
        using var services = Services(s => s.AddEdgeBridge(configuration));

        var error = Assert.Throws<OptionsValidationException>(() => services.GetRequiredService<IOptions<EdgeBridgeOptions>>().Value);

        Assert.Contains("EdgeBridge:Listeners:Grpc:Roles", error.Message, StringComparison.Ordinal);
        Assert.Contains("'Grcp'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AddEdgeBridge_InCodeOnly_ABadValueThrowsNamingTheKey()
    {
        using var services = Services(s => s.AddEdgeBridge(o =>
        {
            o.Tokens.Enabled = false;
            o.WebSockets.MaxConnectionsPerAddress = 0;
        }));

        var error = Assert.Throws<OptionsValidationException>(() => services.GetRequiredService<IOptions<EdgeBridgeOptions>>().Value);

        Assert.Contains("EdgeBridge:WebSockets:MaxConnectionsPerAddress", error.Message, StringComparison.Ordinal);
    }

    private static ServiceProvider Services(Action<IServiceCollection> add)
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddSingleton<IHostEnvironment>(new Environment());
        add(services);
        return services.BuildServiceProvider();
    }

    private sealed class Environment : IHostEnvironment
    {
        public string EnvironmentName { get; set; } = "Test";

        public string ApplicationName { get; set; } = "tests";

        public string ContentRootPath { get; set; } = AppContext.BaseDirectory;

        public IFileProvider ContentRootFileProvider { get; set; } = new NullFileProvider();
    }
}
