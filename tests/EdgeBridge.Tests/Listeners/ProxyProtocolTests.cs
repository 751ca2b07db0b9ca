using System.Buffers;
using System.Net;
using EdgeBridge.Listeners;

namespace EdgeBridge.Tests.Listeners;

public sealed class ProxyProtocolTests
{
    private static readonly byte[] s_signature = [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A];

    private static byte[] Header(byte versionCommand, byte family, byte[] block) =>
        [.. s_signature, versionCommand, family, (byte)(block.Length >> 8), (byte)block.Length, .. block];

    private static readonly byte[] s_ipv4 = [198, 51, 100, 7, 10, 0, 0, 1, 0x9C, 0x40, 0x1F, 0x90];

    [Fact]
    public void ProxyOverTcp4_NamesTheClientAndTheAddressItReached_AndConsumesExactlyTheHeader()
    {
        byte[] bytes = [.. Header(0x21, 0x11, s_ipv4), .. "GET / HTTP/1.1\r\n"u8];

        var parse = ProxyProtocol.TryParse(new ReadOnlySequence<byte>(bytes), out var consumed);

        Assert.Equal(new IPEndPoint(IPAddress.Parse("198.51.100.7"), 40000), parse!.Value.Client);
        Assert.Equal(new IPEndPoint(IPAddress.Parse("10.0.0.1"), 8080), parse.Value.Destination);
        Assert.Equal(28, consumed);
    }

    [Fact]
    public void ProxyOverTcp6_NamesTheClient()
    {
        var client = IPAddress.Parse("2001:db8::7").GetAddressBytes();
        var server = IPAddress.Parse("2001:db8::1").GetAddressBytes();
        byte[] block = [.. client, .. server, 0x00, 0x50, 0x1F, 0x90];

        var parse = ProxyProtocol.TryParse(new ReadOnlySequence<byte>(Header(0x21, 0x21, block)), out _);

        Assert.Equal(new IPEndPoint(IPAddress.Parse("2001:db8::7"), 80), parse!.Value.Client);
    }

    [Fact]
    public void Local_KeepsTheConnectionsOwnAddress()
    {
        var parse = ProxyProtocol.TryParse(new ReadOnlySequence<byte>(Header(0x20, 0x00, [])), out var consumed);

        Assert.Equal((null, null, 16L), (parse!.Value.Client, parse.Value.Problem, consumed));
    }

    [Fact]
    public void TlvsAfterTheAddresses_AreSkipped()
    {
        byte[] block = [.. s_ipv4, 0x04, 0x00, 0x02, 0xAB, 0xCD];

        var parse = ProxyProtocol.TryParse(new ReadOnlySequence<byte>(Header(0x21, 0x11, block)), out var consumed);

        Assert.NotNull(parse!.Value.Client);
        Assert.Equal(16 + block.Length, consumed);
    }

    [Theory]
    [InlineData(5)]
    [InlineData(15)]
    [InlineData(20)]
    public void HeaderNotComplete_AsksForMore(int length)
    {
        var bytes = Header(0x21, 0x11, s_ipv4)[..length];

        Assert.Null(ProxyProtocol.TryParse(new ReadOnlySequence<byte>(bytes), out _));
    }

    [Fact]
    public void HeaderSplitAcrossSegments_IsParsed()
    {
        var bytes = Header(0x21, 0x11, s_ipv4);
        var first = new Segment(bytes[..10]);
        var last = first.Append(bytes[10..]);

        var parse = ProxyProtocol.TryParse(new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length), out _);

        Assert.Equal(IPAddress.Parse("198.51.100.7"), parse!.Value.Client!.Address);
    }

    public static TheoryData<byte[], string> Invalid => new()
    {
        { "GET / HTTP/1.1\r\nHost: x\r\n\r\n"u8.ToArray(), "signature" },
        { "PROXY TCP4 198.51.100.7 10.0.0.1 40000 8080\r\n"u8.ToArray(), "signature" },
        { Header(0x11, 0x11, s_ipv4), "version 1" },
        { Header(0x22, 0x11, s_ipv4), "command 2" },
        { Header(0x21, 0x11, s_ipv4[..8]), "family" },
        { Header(0x21, 0x31, new byte[216]), "family" },
        { [.. s_signature, 0x21, 0x11, 0xFF, 0xFF], "at most 512" },
    };

    [Theory]
    [MemberData(nameof(Invalid))]
    public void MalformedOrForeign_IsRefused_SayingWhy(byte[] bytes, string problem)
    {
        var parse = ProxyProtocol.TryParse(new ReadOnlySequence<byte>(bytes), out _);

        Assert.Contains(problem, parse!.Value.Problem);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(byte[] bytes) => Memory = bytes;

        public Segment Append(byte[] bytes)
        {
            var next = new Segment(bytes) { RunningIndex = RunningIndex + Memory.Length };
            Next = next;
            return next;
        }
    }
}
