using EdgeBridge.Proxy;

namespace EdgeBridge.Tests.Proxy;

public sealed class CachingTransformProviderTests
{
    [Theory]
    [InlineData("\"abc\"", true)]
    [InlineData("W/\"abc\"", true)]
    [InlineData("\"x\", \"abc\"", true)]
    [InlineData("*", true)]
    [InlineData("\"abd\"", false)]
    [InlineData("", false)]
    public void Matches_IfNoneMatchList_WeakComparison(string header, bool expected)
    {
        Assert.Equal(expected, CachingTransformProvider.Matches(header, "\"abc\""));
    }

    [Fact]
    public void ComputeETag_SameBytesSameTag_DifferentBytesDifferentTag()
    {
        var a = CachingTransformProvider.ComputeETag("{\"a\":1}"u8);

        Assert.Equal(a, CachingTransformProvider.ComputeETag("{\"a\":1}"u8));
        Assert.NotEqual(a, CachingTransformProvider.ComputeETag("{\"a\":2}"u8));
        Assert.StartsWith("\"", a);
        Assert.EndsWith("\"", a);
    }
}
