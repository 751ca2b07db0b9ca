using System.Collections.Concurrent;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.Extensions.Options;
using Yarp.ReverseProxy;

namespace EdgeBridge.Upstream;

/// <summary>
/// gRPC channels to the destinations of the configured upstream cluster. The reverse-proxy configuration is
/// the single place where backend addresses live; a reload that changes them is picked up on the next call.
/// </summary>
internal sealed class UpstreamChannels(IProxyStateLookup proxyState, IOptionsMonitor<EdgeBridgeOptions> options) : IDisposable
{
    private readonly ConcurrentDictionary<string, GrpcChannel> _channels = new(StringComparer.OrdinalIgnoreCase);
    private int _next;

    /// <summary>The channel for the next destination (round robin), or UNAVAILABLE when the cluster has none.</summary>
    public GrpcChannel Next()
    {
        var addresses = Addresses();
        if (addresses.Count == 0)
        {
            throw new RpcException(new Grpc.Core.Status(StatusCode.Unavailable,
                $"The upstream cluster '{options.CurrentValue.Upstream.GrpcCluster}' has no available destination."));
        }

        var index = (int)((uint)Interlocked.Increment(ref _next) % (uint)addresses.Count);
        return For(addresses[index]);
    }

    /// <summary>Every destination address of the upstream cluster that the proxy considers available.</summary>
    public IReadOnlyList<string> Addresses()
    {
        if (!proxyState.TryGetCluster(options.CurrentValue.Upstream.GrpcCluster, out var cluster))
        {
            return [];
        }

        return cluster.DestinationsState.AvailableDestinations.Select(d => d.Model.Config.Address).ToList();
    }

    public GrpcChannel For(string address) => _channels.GetOrAdd(address, static address => GrpcChannel.ForAddress(address, new GrpcChannelOptions
    {
        HttpHandler = new SocketsHttpHandler
        {
            EnableMultipleHttp2Connections = true,
            PooledConnectionIdleTimeout = Timeout.InfiniteTimeSpan,
            KeepAlivePingDelay = TimeSpan.FromSeconds(30),
            KeepAlivePingTimeout = TimeSpan.FromSeconds(10),
            ConnectTimeout = TimeSpan.FromSeconds(5),
        },
        // Upstream statuses pass through unchanged; retries are the client's decision.
        MaxRetryAttempts = 0,
    }));

    public void Dispose()
    {
        foreach (var channel in _channels.Values)
        {
            channel.Dispose();
        }
    }
}
