using System.Net.Sockets;
using System.Text;
using EdgeBridge.FunctionalTests.Common;

namespace EdgeBridge.FunctionalTests.Cluster;

/// <summary>
/// Debian's HAProxy with the repository's configuration (<c>deploy/haproxy/haproxy.cfg</c>) in front of two edges, on
/// ports of its own; its admin socket says which edges it considers up.
/// </summary>
public sealed class HaproxyProcess : IAsyncDisposable
{
    private readonly ChildProcess _process;
    private readonly string _socket;

    private HaproxyProcess(ChildProcess process, string socket, int httpPort, int grpcPort)
    {
        _process = process;
        _socket = socket;
        HttpPort = httpPort;
        GrpcPort = grpcPort;
    }

    public int HttpPort { get; }

    public int GrpcPort { get; }

    public string HttpAddress => $"http://127.0.0.1:{HttpPort}";

    public string GrpcAddress => $"http://127.0.0.1:{GrpcPort}";

    public static string Configuration => Path.Combine(Repository.Root, "deploy", "haproxy", "haproxy.cfg");

    public static async Task<HaproxyProcess> StartAsync(EdgeProcess first, EdgeProcess second)
    {
        var (http, grpc) = (ChildProcess.FreePort(), ChildProcess.FreePort());
        var socket = Path.Combine(Path.GetTempPath(), $"edgebridge-haproxy-{Guid.NewGuid():N}.sock");
        var environment = new Dictionary<string, string>
        {
            ["EDGEBRIDGE_HTTP_BIND"] = $"127.0.0.1:{http}",
            ["EDGEBRIDGE_GRPC_BIND"] = $"127.0.0.1:{grpc}",
            ["EDGEBRIDGE_HAPROXY_SOCKET"] = socket,
            ["EDGE1_HOST"] = "127.0.0.1",
            ["EDGE1_HTTP_PORT"] = first.HttpPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["EDGE1_GRPC_PORT"] = first.GrpcPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["EDGE2_HOST"] = "127.0.0.1",
            ["EDGE2_HTTP_PORT"] = second.HttpPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["EDGE2_GRPC_PORT"] = second.GrpcPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
        };
        // Debian installs it in /usr/sbin, which not every PATH has.
        var haproxy = File.Exists("/usr/sbin/haproxy") ? "/usr/sbin/haproxy" : "haproxy";
        var process = ChildProcess.Start(haproxy, ["-db", "-f", Configuration], Repository.Root, environment);
        var balancer = new HaproxyProcess(process, socket, http, grpc);
        await balancer.WaitUntilUpAsync("edge1", "edge2");
        return balancer;
    }

    /// <summary>Waits until the balancer's health checks put exactly these edges in rotation, for REST and gRPC alike.</summary>
    public async Task WaitUntilUpAsync(params string[] edges)
    {
        var last = (Http: new HashSet<string>(), Grpc: new HashSet<string>());
        try
        {
            await _process.WaitUntilAsync(async () =>
            {
                last = await UpAsync();
                return last.Http.SetEquals(edges) && last.Grpc.SetEquals(edges);
            }, $"HAProxy has {string.Join(" and ", edges)} up");
        }
        catch (TimeoutException ex)
        {
            throw new TimeoutException($"{ex.Message}\nUp for REST: {string.Join(", ", last.Http)}; for gRPC: {string.Join(", ", last.Grpc)}; stat:\n{await StatAsync()}", ex);
        }
    }

    private async Task<string> StatAsync()
    {
        try
        {
            return await CommandAsync("show stat");
        }
        catch (Exception ex) when (ex is SocketException or IOException)
        {
            return ex.ToString();
        }
    }

    /// <summary>The edges each backend of the balancer has in rotation now (status UP), from <c>show stat</c>.</summary>
    public async Task<(HashSet<string> Http, HashSet<string> Grpc)> UpAsync()
    {
        var (http, grpc) = (new HashSet<string>(StringComparer.Ordinal), new HashSet<string>(StringComparer.Ordinal));
        string stat;
        try
        {
            stat = await CommandAsync("show stat");
        }
        catch (SocketException)
        {
            return (http, grpc);
        }

        // CSV: pxname, svname, ... status is the 18th field.
        foreach (var line in stat.Split('\n'))
        {
            var fields = line.Split(',');
            if (fields.Length > 17 && fields[17] == "UP" && fields[1] is not ("BACKEND" or "FRONTEND"))
            {
                (fields[0] switch { "edges_http" => http, "edges_grpc" => grpc, _ => null })?.Add(fields[1]);
            }
        }

        return (http, grpc);
    }

    /// <summary>Current sessions per edge of the browser backend (WebSockets are sessions while they last).</summary>
    public async Task<Dictionary<string, int>> SessionsAsync()
    {
        var sessions = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var line in (await CommandAsync("show stat")).Split('\n'))
        {
            var fields = line.Split(',');
            if (fields.Length > 4 && fields[0] == "edges_http" && fields[1].StartsWith("edge", StringComparison.Ordinal))
            {
                sessions[fields[1]] = int.Parse(fields[4], System.Globalization.CultureInfo.InvariantCulture);
            }
        }

        return sessions;
    }

    private async Task<string> CommandAsync(string command)
    {
        using var client = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await client.ConnectAsync(new UnixDomainSocketEndPoint(_socket));
        await client.SendAsync(Encoding.ASCII.GetBytes(command + "\n"));
        using var stream = new NetworkStream(client, ownsSocket: false);
        using var reader = new StreamReader(stream, Encoding.ASCII);
        return await reader.ReadToEndAsync();
    }

    public async ValueTask DisposeAsync()
    {
        await _process.DisposeAsync();
        File.Delete(_socket);
    }
}
