using CatalogTest.V1;
using EdgeBridge.Contracts;
using EdgeBridge.Contracts.V1;

namespace EdgeBridge.Tests.Contracts;

public sealed class StreamCursorTests
{
    private static readonly Google.Protobuf.Reflection.MethodDescriptor s_feed =
        CatalogTestReflection.Descriptor.FindTypeByName<Google.Protobuf.Reflection.ServiceDescriptor>("FeedService").FindMethodByName("PrivateFeed");

    [Fact]
    public void After_CopiesTheRequest_WithTheLastMessagesPosition()
    {
        var cursor = StreamCursor.For(s_feed, new Resume { RequestField = "after_sequence", ResponseField = "sequence" })!;
        var original = new FeedRequest { Topic = "t", AfterSequence = 3 };

        var resumed = (FeedRequest)cursor.After(original, new FeedResponse { Sequence = 41, Text = "x" });

        Assert.Equal(new FeedRequest { Topic = "t", AfterSequence = 41 }, resumed);
        Assert.Equal(3, original.AfterSequence);
    }

    [Theory]
    [InlineData("""{"text":"x","sequence":"41"}""", "41")]
    [InlineData("""{"nested":{"sequence":"9"},"sequence":"41"}""", "41")]
    [InlineData("""{"list":[{"sequence":"9"}],"sequence":"7"}""", "7")]
    [InlineData("""{"text":"no position"}""", null)]
    public void PositionOf_ReadsTheCursorFromTheMessagesJson(string json, string? position)
    {
        var cursor = StreamCursor.For(s_feed, new Resume { RequestField = "after_sequence", ResponseField = "sequence" })!;

        Assert.Equal(position, cursor.PositionOf(System.Text.Encoding.UTF8.GetBytes(json)));
    }

    [Fact]
    public void AfterAPosition_AsAClientEchoesIt_SetsTheRequestField_OrRefusesWhatIsNotOne()
    {
        var cursor = StreamCursor.For(s_feed, new Resume { RequestField = "after_sequence", ResponseField = "sequence" })!;

        Assert.Equal(new FeedRequest { Topic = "t", AfterSequence = 12 }, cursor.After(new FeedRequest { Topic = "t" }, "12"));
        Assert.Throws<FormatException>(() => cursor.After(new FeedRequest(), "twelve"));
        Assert.Throws<OverflowException>(() => cursor.After(new FeedRequest(), "99999999999999999999"));
    }

    [Fact]
    public void NoOption_NoCursor() => Assert.Null(StreamCursor.For(s_feed, null));

    [Theory]
    [InlineData("after_sequenc", "sequence", "request field 'after_sequenc' is not a field of catalogtest.v1.FeedRequest")]
    [InlineData("after_sequence", "sequence.value", "response field 'sequence.value' is not a field path")]
    [InlineData("after_sequence", "text", "differ in type")]
    [InlineData("topic", "sequence", "differ in type")]
    public void MisnamedOrMistypedFields_RefusedWhenTheContractLoads(string request, string response, string problem)
    {
        var error = Assert.Throws<InvalidOperationException>(() =>
            StreamCursor.For(s_feed, new Resume { RequestField = request, ResponseField = response }));

        Assert.Contains("catalogtest.v1.FeedService.PrivateFeed", error.Message, StringComparison.Ordinal);
        Assert.Contains(problem, error.Message, StringComparison.Ordinal);
    }
}
