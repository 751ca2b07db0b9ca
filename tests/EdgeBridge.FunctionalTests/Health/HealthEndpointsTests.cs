using System.Net;
using EdgeBridge.FunctionalTests.Common;

namespace EdgeBridge.FunctionalTests.Health;

public sealed class HealthEndpointsTests(StackFixture stack) : IClassFixture<StackFixture>
{
    [Theory]
    [InlineData("/healthz")]
    [InlineData("/readyz")]
    public async Task Probe_BackendUp_Ok(string path)
    {
        using var response = await stack.Rest.GetAsync(path);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("SERVING", await response.Content.ReadAsStringAsync());
        Assert.True(response.Headers.CacheControl!.NoStore);
    }
}
