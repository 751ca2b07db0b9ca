using EdgeBridge.FunctionalTests.Common;

namespace EdgeBridge.FunctionalTests.Hosting;

/// <summary>A bad setting stops the edge when it starts, with a message that names the key, instead of a strange answer later.</summary>
public sealed class StartupValidationTests
{
    [Theory]
    [InlineData("EdgeBridge:WebSockets:MaxFrameBytes", "0")]
    [InlineData("EdgeBridge:WebSockets:InitTimeout", "00:00:00")]
    [InlineData("EdgeBridge:Upstream:MaxCallsPerAddress", "-1")]
    [InlineData("EdgeBridge:Grpc:MaxMessageBytes", "0")]
    [InlineData("EdgeBridge:Tokens:SigningKey", "dG9vLXNob3J0")]
    [InlineData("EdgeBridge:Browser:AllowedOrigins:0", "not an origin")]
    [InlineData("EdgeBridge:Listeners:Grpc:Roles", "Internet")]
    [InlineData("EdgeBridge:Listeners:Grpc:DirectUpgrade", "true")]
    [InlineData("EdgeBridge:Contracts:Expose:0:Method", "trading.v1.NoSuchService/Stream")]
    [InlineData("EdgeBridge:Contracts:Expose:0:Sharing", "Everyone")]
    [InlineData("EdgeBridge:Contracts:ApiConfigs:0", "/no/such/api-config.yaml")]
    public async Task BadSetting_StopsTheHost_NamingTheKey(string key, string value)
    {
        await using var backend = new BackendServer();
        await using var edge = new EdgeServer();

        var error = await Assert.ThrowsAnyAsync<Exception>(() => edge.StartAsync(backend, new Dictionary<string, string?> { [key] = value }));

        Assert.Contains(key, Messages(error), StringComparison.Ordinal);
    }

    [Fact]
    public async Task RouteBoundToAnUnknownListenerRole_StopsTheHost_NamingTheRoute()
    {
        await using var backend = new BackendServer();
        await using var edge = new EdgeServer();

        var error = await Assert.ThrowsAnyAsync<Exception>(() => edge.StartAsync(backend, new Dictionary<string, string?>
        {
            ["ReverseProxy:Routes:rest:Metadata:EdgeBridge.Listener"] = "Everywhere",
        }));

        Assert.Contains("Route 'rest': metadata EdgeBridge.Listener", Messages(error), StringComparison.Ordinal);
    }

    // What an operator reads in the host's crash output: every message down the exception chain.
    private static string Messages(Exception error) => error switch
    {
        AggregateException aggregate => aggregate.Message + string.Concat(aggregate.InnerExceptions.Select(Messages)),
        _ => error.Message + (error.InnerException is { } inner ? Messages(inner) : ""),
    };
}
