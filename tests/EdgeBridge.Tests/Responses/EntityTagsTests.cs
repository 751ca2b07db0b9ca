using EdgeBridge.Responses;

namespace EdgeBridge.Tests.Responses;

public sealed class EntityTagsTests
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
        Assert.Equal(expected, EntityTags.Matches(header, "\"abc\""));
    }

    [Fact]
    public void ComputeETag_SameBytesSameTag_DifferentBytesDifferentTag()
    {
        var a = EntityTags.Compute("{\"a\":1}"u8);

        Assert.Equal(a, EntityTags.Compute("{\"a\":1}"u8));
        Assert.NotEqual(a, EntityTags.Compute("{\"a\":2}"u8));
        Assert.StartsWith("\"", a);
        Assert.EndsWith("\"", a);
    }
}
