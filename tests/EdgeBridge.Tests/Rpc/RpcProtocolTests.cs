using System.IO.Pipelines;
using System.Text;
using System.Text.Json;
using EdgeBridge.Rpc;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Microsoft.AspNetCore.Http;

namespace EdgeBridge.Tests.Rpc;

public sealed class RpcProtocolTests
{
    private static HttpRequest Request(string method, string? contentType, string? query = null, params (string Name, string Value)[] headers)
    {
        var context = new DefaultHttpContext();
        context.Request.Method = method;
        context.Request.ContentType = contentType;
        if (query is not null)
        {
            context.Request.QueryString = new QueryString(query);
        }

        foreach (var (name, value) in headers)
        {
            context.Request.Headers[name] = value;
        }

        return context.Request;
    }

    [Theory]
    [InlineData("application/json", "Connect", true)]
    [InlineData("application/json; charset=utf-8", "Connect", true)]
    [InlineData("application/proto", "Connect", false)]
    [InlineData("application/connect+json", "ConnectStream", true)]
    [InlineData("Application/Connect+Proto", "ConnectStream", false)]
    [InlineData("application/grpc-web", "GrpcWeb", false)]
    [InlineData("application/grpc-web+proto", "GrpcWeb", false)]
    [InlineData("application/grpc-web+json", "GrpcWeb", true)]
    [InlineData("application/grpc-web-text", "GrpcWebText", false)]
    [InlineData("application/grpc-web-text+proto", "GrpcWebText", false)]
    public void ContentType_NamesTheProtocolAndCodec(string contentType, string wire, bool json) =>
        Assert.Equal(new RpcProtocol(System.Enum.Parse<RpcWire>(wire), json), RpcProtocol.Of(Request("POST", contentType)));

    [Theory]
    [InlineData("application/grpc")]
    [InlineData("application/grpc+proto")]
    [InlineData("text/plain")]
    [InlineData("application/jsonx")]
    [InlineData("")]
    [InlineData(null)]
    public void OtherContentTypes_AreNoneOfThem(string? contentType) => Assert.Null(RpcProtocol.Of(Request("POST", contentType)));

    [Theory]
    [InlineData("?connect=v1&encoding=json&message=%7B%7D", true)]
    [InlineData("?encoding=proto&base64=1&message=CgRBQ01F", false)]
    public void Get_TakesItsCodecFromTheQuery(string query, bool json) =>
        Assert.Equal(new RpcProtocol(RpcWire.Connect, json), RpcProtocol.Of(Request("GET", null, query)));

    [Theory]
    [InlineData("?connect=v1&message=%7B%7D")]
    [InlineData("?encoding=xml&message=x")]
    public void Get_WithoutAKnownEncoding_IsNone(string query) => Assert.Null(RpcProtocol.Of(Request("GET", null, query)));

    [Theory]
    [InlineData("1500", 1500)]
    [InlineData("0", 0)]
    [InlineData("9999999999", 9999999999)]
    public void ConnectTimeout_IsMilliseconds(string header, long ms)
    {
        Assert.True(new RpcProtocol(RpcWire.Connect, true).TryReadTimeout(Request("POST", "application/json", null, ("Connect-Timeout-Ms", header)), out var timeout));
        Assert.Equal(TimeSpan.FromMilliseconds(ms), timeout);
    }

    [Theory]
    [InlineData("-1")]
    [InlineData("1.5")]
    [InlineData("soon")]
    [InlineData("12345678901")]
    public void ConnectTimeout_Malformed_IsRefused(string header) =>
        Assert.False(new RpcProtocol(RpcWire.ConnectStream, true).TryReadTimeout(Request("POST", "application/connect+json", null, ("Connect-Timeout-Ms", header)), out _));

    [Theory]
    [InlineData("2H", 7_200_000)]
    [InlineData("3M", 180_000)]
    [InlineData("10S", 10_000)]
    [InlineData("300m", 300)]
    [InlineData("5000u", 5)]
    [InlineData("7000000n", 7)]
    public void GrpcTimeout_HasItsUnit(string header, double ms)
    {
        Assert.True(new RpcProtocol(RpcWire.GrpcWeb, false).TryReadTimeout(Request("POST", "application/grpc-web", null, ("grpc-timeout", header)), out var timeout));
        Assert.Equal(TimeSpan.FromMilliseconds(ms), timeout);
    }

    [Theory]
    [InlineData("10")]
    [InlineData("S")]
    [InlineData("123456789S")]
    [InlineData("10s")]
    [InlineData("1.5S")]
    public void GrpcTimeout_Malformed_IsRefused(string header) =>
        Assert.False(new RpcProtocol(RpcWire.GrpcWebText, false).TryReadTimeout(Request("POST", "application/grpc-web-text", null, ("grpc-timeout", header)), out _));

    [Fact]
    public void NoTimeoutHeader_MeansNoDeadline()
    {
        Assert.True(new RpcProtocol(RpcWire.Connect, true).TryReadTimeout(Request("POST", "application/json"), out var connect));
        Assert.True(new RpcProtocol(RpcWire.GrpcWeb, false).TryReadTimeout(Request("POST", "application/grpc-web"), out var grpc));
        Assert.Null(connect);
        Assert.Null(grpc);
    }
}

public sealed class EnvelopeTests
{
    private static byte[] Frame(byte flags, int declared, int actual)
    {
        var frame = new byte[5 + actual];
        Envelope.WriteHeader(frame, flags, declared);
        return frame;
    }

    [Fact]
    public void OneEnvelope_YieldsItsMessage()
    {
        var frame = new byte[5 + 3];
        Envelope.WriteHeader(frame, 0, 3);
        "abc"u8.CopyTo(frame.AsSpan(5));

        Assert.True(Envelope.TryReadSingle(frame, out var message, out var problem));
        Assert.Null(problem);
        Assert.Equal("abc", Encoding.ASCII.GetString(message.Span));
        Assert.Equal([0, 0, 0, 0, 3], frame[..5]);
    }

    [Fact]
    public void EmptyMessage_IsAMessage() => Assert.True(Envelope.TryReadSingle(Frame(0, 0, 0), out var message, out _) && message.IsEmpty);

    [Theory]
    [InlineData(0, 10, 3, "says 10 bytes but 3 follow")]
    [InlineData(0, 3, 10, "says 3 bytes but 10 follow")]
    [InlineData(1, 3, 3, "compressed")]
    [InlineData(0x80, 3, 3, "flags are 0x80")]
    [InlineData(0x02, 3, 3, "flags are 0x02")]
    public void AnythingButOneUncompressedEnvelope_IsRefusedInWords(byte flags, int declared, int actual, string expected)
    {
        Assert.False(Envelope.TryReadSingle(Frame(flags, declared, actual), out _, out var problem));
        Assert.Contains(expected, problem, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(4)]
    public void ShorterThanAHeader_IsRefused(int length) => Assert.False(Envelope.TryReadSingle(new byte[length], out _, out _));

    [Fact]
    public void LengthAboveTwoGigabytes_IsRefusedNotOverflowed()
    {
        var frame = new byte[5];
        frame[1] = 0xff;
        frame[2] = 0xff;
        frame[3] = 0xff;
        frame[4] = 0xff;
        Assert.False(Envelope.TryReadSingle(frame, out _, out _));
    }
}

public sealed class RpcErrorsTests
{
    private static Google.Rpc.Status WithDetail() => new()
    {
        Code = 5,
        Message = "Symbol 'NOPE' is not listed.",
        Details = { Any.Pack(new Google.Rpc.ResourceInfo { ResourceType = "trading.v1.Symbol", ResourceName = "NOPE" }) },
    };

    [Theory]
    [InlineData(1, "canceled")]
    [InlineData(2, "unknown")]
    [InlineData(3, "invalid_argument")]
    [InlineData(4, "deadline_exceeded")]
    [InlineData(8, "resource_exhausted")]
    [InlineData(9, "failed_precondition")]
    [InlineData(12, "unimplemented")]
    [InlineData(14, "unavailable")]
    [InlineData(16, "unauthenticated")]
    [InlineData(99, "unknown")]
    public void ConnectCodes_AreTheSpecificationsNames(int code, string name) => Assert.Equal(name, RpcErrors.ConnectCode(code));

    [Fact]
    public void ConnectEndOfStream_OkIsEmpty_ErrorCarriesCodeMessageAndDetails()
    {
        Assert.Equal("{}", Encoding.UTF8.GetString(RpcErrors.ConnectEndOfStream(new Google.Rpc.Status())));

        var error = JsonDocument.Parse(RpcErrors.ConnectEndOfStream(WithDetail())).RootElement.GetProperty("error");
        Assert.Equal("not_found", error.GetProperty("code").GetString());
        Assert.Equal("Symbol 'NOPE' is not listed.", error.GetProperty("message").GetString());
        var detail = error.GetProperty("details")[0];
        Assert.Equal("google.rpc.ResourceInfo", detail.GetProperty("type").GetString());
        var value = detail.GetProperty("value").GetString()!;
        Assert.DoesNotContain("=", value, StringComparison.Ordinal);
        Assert.Equal("NOPE", Google.Rpc.ResourceInfo.Parser.ParseFrom(Convert.FromBase64String(value + new string('=', (4 - value.Length % 4) % 4))).ResourceName);
    }

    [Fact]
    public void GrpcWebTrailers_AreHeaderLines_WithTheMessagePercentEncoded()
    {
        var text = Encoding.ASCII.GetString(RpcErrors.GrpcWebTrailers(WithDetail()));
        var lines = text.Split("\r\n", StringSplitOptions.RemoveEmptyEntries).ToDictionary(l => l[..l.IndexOf(':')], l => l[(l.IndexOf(':') + 1)..]);

        Assert.EndsWith("\r\n", text, StringComparison.Ordinal);
        Assert.Equal("5", lines["grpc-status"]);
        Assert.Equal("Symbol 'NOPE' is not listed.", Uri.UnescapeDataString(lines["grpc-message"]));
        Assert.DoesNotContain(" ", lines["grpc-message"], StringComparison.Ordinal);
        var details = lines["grpc-status-details-bin"];
        Assert.Equal(WithDetail(), Google.Rpc.Status.Parser.ParseFrom(Convert.FromBase64String(details + new string('=', (4 - details.Length % 4) % 4))));
        Assert.Equal("grpc-status:0\r\n", Encoding.ASCII.GetString(RpcErrors.GrpcWebTrailers(new Google.Rpc.Status())));
    }

    [Fact]
    public async Task TextStreams_AreOnePaddedBase64RunPerEnvelope()
    {
        var pipe = new Pipe();
        var format = RpcStreamFormat.For(new RpcProtocol(RpcWire.GrpcWebText, false));
        format.Next(pipe.Writer, "a"u8, 0, null);
        format.End(pipe.Writer, new Google.Rpc.Status(), null!);
        await pipe.Writer.CompleteAsync();
        var text = Encoding.ASCII.GetString(System.Buffers.BuffersExtensions.ToArray((await pipe.Reader.ReadAsync()).Buffer));

        // Six bytes (header and "a") are eight characters; the trailers frame follows as its own run.
        Assert.Equal(Convert.ToBase64String([0, 0, 0, 0, 1, (byte)'a']), text[..8]);
        var trailers = Convert.FromBase64String(text[8..]);
        Assert.Equal(0x80, trailers[0]);
        Assert.Equal("grpc-status:0\r\n", Encoding.ASCII.GetString(trailers.AsSpan(5)));
        Assert.Equal("application/grpc-web-text+proto", format.ContentType);
    }
}
