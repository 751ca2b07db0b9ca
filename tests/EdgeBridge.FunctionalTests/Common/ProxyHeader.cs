using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace EdgeBridge.FunctionalTests.Common;

/// <summary>PROXY protocol v2 headers, as HAProxy's <c>send-proxy-v2</c> writes them.</summary>
public static class ProxyHeader
{
    private static readonly byte[] s_signature = [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A];

    /// <summary>A PROXY command for a TCP connection from <paramref name="client"/> (IPv4) to <paramref name="server"/>.</summary>
    public static byte[] V2(IPEndPoint client, IPEndPoint server)
    {
        var header = new byte[16 + 12];
        s_signature.CopyTo(header, 0);
        header[12] = 0x21; // version 2, PROXY
        header[13] = 0x11; // TCP over IPv4
        BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(14), 12);
        client.Address.MapToIPv4().GetAddressBytes().CopyTo(header, 16);
        server.Address.MapToIPv4().GetAddressBytes().CopyTo(header, 20);
        BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(24), (ushort)client.Port);
        BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(26), (ushort)server.Port);
        return header;
    }

    /// <summary>A LOCAL command: the balancer speaking for itself, as in its health checks.</summary>
    public static byte[] Local()
    {
        var header = new byte[16];
        s_signature.CopyTo(header, 0);
        header[12] = 0x20;
        return header;
    }

    /// <summary>
    /// GET <paramref name="path"/> on a listener behind PROXY protocol, as the balancer's health check asks it (a LOCAL
    /// header first); the HTTP status, or 0 when the connection failed or closed.
    /// </summary>
    public static async Task<int> GetStatusAsync(int port, string path)
    {
        try
        {
            using var client = new TcpClient();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await client.ConnectAsync(IPAddress.Loopback, port, timeout.Token);
            var stream = client.GetStream();
            await stream.WriteAsync(Local(), timeout.Token);
            await stream.WriteAsync(System.Text.Encoding.ASCII.GetBytes($"GET {path} HTTP/1.1\r\nHost: edge\r\nConnection: close\r\n\r\n"), timeout.Token);
            using var reader = new StreamReader(stream);
            var statusLine = await reader.ReadLineAsync(timeout.Token);
            return statusLine?.Split(' ') is [_, var code, ..] ? int.Parse(code, System.Globalization.CultureInfo.InvariantCulture) : 0;
        }
        catch (Exception ex) when (ex is SocketException or IOException or OperationCanceledException)
        {
            return 0;
        }
    }
}
