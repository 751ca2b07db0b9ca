using EdgeBridge.Contracts;

namespace EdgeBridge.Tests.Contracts;

public sealed class HttpRuleTemplateTests
{
    private static HttpRuleTemplate Template(string template) => HttpRuleTemplate.Parse("GET", template) ?? throw new ArgumentException(template);

    [Theory]
    [InlineData("/v1/symbols", "/v1/symbols", true)]
    [InlineData("/v1/symbols", "/v1/symbols/", false)]
    [InlineData("/v1/symbols", "/v1/symbol", false)]
    [InlineData("/v1/quotes/{symbol}", "/v1/quotes/ACME", true)]
    [InlineData("/v1/quotes/{symbol}", "/v1/quotes/", false)]
    [InlineData("/v1/quotes/{symbol}", "/v1/quotes/ACME/more", false)]
    [InlineData("/v1/accounts/{account_id}/orders/{order_id}:cancel", "/v1/accounts/a/orders/o:cancel", true)]
    [InlineData("/v1/accounts/{account_id}/orders/{order_id}:cancel", "/v1/accounts/a/orders/o", false)]
    [InlineData("/v1/accounts/{account_id}/orders/{order_id}", "/v1/accounts/a/orders/o:cancel", true)]
    [InlineData("/v1/{name=shelves/*}/books", "/v1/shelves/s1/books", true)]
    [InlineData("/v1/{name=shelves/*}/books", "/v1/racks/s1/books", false)]
    [InlineData("/v1/files/{path=**}", "/v1/files/a/b/c", true)]
    [InlineData("/v1/files/{path=**}", "/v1/files", true)]
    [InlineData("/v1/*/items", "/v1/x/items", true)]
    [InlineData("/", "/", true)]
    public void Matches_FollowsTheHttpRuleGrammar(string template, string path, bool matches) =>
        Assert.Equal(matches, Template(template).Matches(path));

    [Fact]
    public void Match_BindsASingleSegmentVariable()
    {
        Assert.True(Template("/v1/users/{username}/session").Match("/v1/users/al%20ice/session", "username", out var value));

        Assert.Equal("al%20ice", value);
    }

    [Theory]
    [InlineData("v1/no-slash")]
    [InlineData("/v1/{unclosed")]
    [InlineData("/v1/**/middle")]
    [InlineData("/v1/{a}b")]
    public void MalformedTemplates_AreRefused(string template) => Assert.Null(HttpRuleTemplate.Parse("GET", template));
}
