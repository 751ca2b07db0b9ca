using System.Text;
using System.Text.Json;
using EdgeBridge.Streams;
using EdgeBridge.WebSockets;
using Grpc.Core;

namespace EdgeBridge.Tests.WebSockets;

public sealed class ServerFramesTests
{
    [Fact]
    public void WriteNext_IdNeedingEscapes_ProducesValidJsonWithSharedMessageBytes()
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        var message = """{"quote":{"symbol":"ACME"}}"""u8.ToArray();

        ServerFrames.WriteNext(buffer, ServerFrames.NextPrefix("a\"b\\c</script>"), dropped: 7, message);

        var frame = JsonDocument.Parse(buffer.WrittenMemory).RootElement;
        Assert.Equal("next", frame.GetProperty("type").GetString());
        Assert.Equal("a\"b\\c</script>", frame.GetProperty("id").GetString());
        Assert.Equal(7, frame.GetProperty("dropped").GetInt64());
        Assert.Equal("""{"quote":{"symbol":"ACME"}}""", frame.GetProperty("message").GetRawText());
    }

    [Theory]
    [InlineData("q", 0, 3)]
    [InlineData("q", 1, 200)]
    [InlineData("é-subscription-with-a-long-name-that-is-sixty-four-characters-l", 300_000_000_000, 70_000)]
    public void WriteNext_Proto_IsANextFrameMessageHoldingTheSharedMessageBytes(string id, long dropped, int messageBytes)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        var message = Enumerable.Range(0, messageBytes).Select(i => (byte)i).ToArray();
        var prefix = ServerFrames.NextPrefix(id, MessageEncoding.Proto);

        var length = ServerFrames.WriteNext(buffer, prefix, dropped, message, MessageEncoding.Proto);

        // Any protobuf library reads it back as edgebridge.v1.NextFrame.
        var frame = EdgeBridge.Contracts.V1.NextFrame.Parser.ParseFrom(buffer.WrittenSpan);
        Assert.Equal(id, frame.Id);
        Assert.Equal((ulong)dropped, frame.Dropped);
        Assert.Equal(message, frame.Message.ToByteArray());
        Assert.Equal(buffer.WrittenCount, length);
        Assert.Equal(frame.CalculateSize(), length);
    }

    [Fact]
    public void Error_WithoutId_IsARejectedFrameReport()
    {
        var frame = JsonDocument.Parse(ServerFrames.Error(null, StatusCode.InvalidArgument, "bad")).RootElement;

        Assert.False(frame.TryGetProperty("id", out _));
        Assert.Equal(3, frame.GetProperty("status").GetProperty("code").GetInt32());
        Assert.Equal("bad", frame.GetProperty("status").GetProperty("message").GetString());
        Assert.Equal(0, frame.GetProperty("status").GetProperty("details").GetArrayLength());
    }

    [Fact]
    public void StatusOf_RpcExceptionWithDetailsTrailer_KeepsDetails()
    {
        var status = new Google.Rpc.Status
        {
            Code = 5,
            Message = "gone",
            Details = { Google.Protobuf.WellKnownTypes.Any.Pack(new Google.Rpc.ErrorInfo { Reason = "GONE", Domain = "test" }) },
        };
        var trailers = new Metadata { { "grpc-status-details-bin", Google.Protobuf.MessageExtensions.ToByteArray(status) } };

        var parsed = RpcStatuses.FromException(new RpcException(new Grpc.Core.Status(StatusCode.NotFound, "gone"), trailers));
        var json = JsonDocument.Parse(Encoding.UTF8.GetString(ServerFrames.Error("x", parsed, json: null))).RootElement;

        Assert.Equal(5, json.GetProperty("status").GetProperty("code").GetInt32());
        Assert.Equal("type.googleapis.com/google.rpc.ErrorInfo", json.GetProperty("status").GetProperty("details")[0].GetProperty("@type").GetString());
    }
}
