using System.Net;
using EdgeBridge.FunctionalTests.Common;

namespace EdgeBridge.FunctionalTests.Proxy;

/// <summary>REST reads through the edge stay cacheable: ETags, 304s and Cache-Control per route.</summary>
public sealed class CachingTests(StackFixture stack) : IClassFixture<StackFixture>
{
    [Fact]
    public async Task Get_IfNoneMatchWithCurrentETag_NotModified304WithoutBody()
    {
        using var first = await stack.Rest.GetAsync("/v1/symbols");
        var etag = first.Headers.ETag;
        Assert.NotNull(etag);
        Assert.False(etag.IsWeak);

        using var request = new HttpRequestMessage(HttpMethod.Get, "/v1/symbols");
        request.Headers.IfNoneMatch.Add(etag);
        using var second = await stack.Rest.SendAsync(request);

        Assert.Equal(HttpStatusCode.NotModified, second.StatusCode);
        Assert.Equal(etag, second.Headers.ETag);
        Assert.Empty(await second.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task Get_IfNoneMatchWithStaleETag_FullResponseWithNewETag()
    {
        var alice = await stack.LoginAsync();
        using var first = await stack.Rest.SendAsync(StackFixture.Request(HttpMethod.Get, "/v1/accounts/acc-alice/portfolio", alice));
        var stale = first.Headers.ETag!;
        await stack.SendAsync(HttpMethod.Post, "/v1/accounts/acc-alice/orders", alice, new { symbol = "WONK", side = "ORDER_SIDE_BUY", quantity = "1" });

        using var request = StackFixture.Request(HttpMethod.Get, "/v1/accounts/acc-alice/portfolio", alice);
        request.Headers.IfNoneMatch.Add(stale);
        using var second = await stack.Rest.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, second.StatusCode);
        Assert.NotEqual(stale, second.Headers.ETag);
        Assert.Contains("WONK", await second.Content.ReadAsStringAsync());
    }

    [Theory]
    [InlineData("/v1/quotes/ACME", "public, max-age=1")]
    [InlineData("/v1/symbols", "public, max-age=300")]
    public async Task Get_PublicRead_CarriesShortPublicCacheControl(string path, string expected)
    {
        using var response = await stack.Rest.GetAsync(path);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(expected, response.Headers.CacheControl?.ToString());
    }

    [Fact]
    public async Task Get_AccountRead_IsPrivateAndRevalidated()
    {
        var alice = await stack.LoginAsync();

        using var response = await stack.Rest.SendAsync(StackFixture.Request(HttpMethod.Get, "/v1/accounts/acc-alice/portfolio", alice));

        Assert.True(response.Headers.CacheControl!.Private);
        Assert.True(response.Headers.CacheControl.NoCache);
        Assert.NotNull(response.Headers.ETag);
    }

    [Fact]
    public async Task Post_NeverGetsAnETag()
    {
        using var response = await stack.Rest.PostAsync("/v1/auth/login",
            new StringContent("{\"username\":\"alice\",\"password\":\"wonderland\"}", System.Text.Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Null(response.Headers.ETag);
    }
}
