using System.Net;
using System.Net.Sockets;
using Grpc.Net.Client;

namespace EdgeBridge.FunctionalTests.Common;

/// <summary>
/// Clients that connect from a chosen loopback source address (127.0.0.x): another client as far as per-address
/// limits go, as distinct hosts on a network would be.
/// </summary>
public static class Loopback
{
    public static Func<SocketsHttpConnectionContext, CancellationToken, ValueTask<Stream>> BindTo(IPAddress address) => async (context, token) =>
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        socket.Bind(new IPEndPoint(address, 0));
        await socket.ConnectAsync(context.DnsEndPoint, token);
        return new NetworkStream(socket, ownsSocket: true);
    };

    /// <summary>A REST client of <paramref name="baseAddress"/> connecting from <paramref name="source"/>.</summary>
    public static HttpClient Http(string baseAddress, IPAddress source) =>
        new(new SocketsHttpHandler { ConnectCallback = BindTo(source) }) { BaseAddress = new Uri(baseAddress), Timeout = Wait.Deadline };

    /// <summary>A gRPC channel to <paramref name="address"/> connecting from <paramref name="source"/>, over one HTTP/2 connection.</summary>
    public static GrpcChannel Grpc(string address, IPAddress source, int? maxSendMessageSize = 4 * 1024 * 1024) => GrpcChannel.ForAddress(address, new GrpcChannelOptions
    {
        HttpHandler = new SocketsHttpHandler { ConnectCallback = BindTo(source), EnableMultipleHttp2Connections = false },
        MaxRetryAttempts = 0,
        MaxSendMessageSize = maxSendMessageSize,
    });

    /// <summary>The n-th address of a /24 on loopback that no other test uses (127.0.&lt;block&gt;.n).</summary>
    public static IPAddress Address(int block, int n) => new([127, 0, (byte)block, (byte)n]);
}
