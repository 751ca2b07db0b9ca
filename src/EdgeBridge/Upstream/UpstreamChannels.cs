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
    private readonly ConcurrentDictionary<string, CallInvoker> _invokers = new(StringComparer.OrdinalIgnoreCase);
    private int _next;

    /// <summary>
    /// The call invoker of the next destination (round robin), or UNAVAILABLE when the cluster has none. A call
    /// re-opened after <paramref name="avoid"/>'s replica broke goes to another one while there is another: the
    /// proxy's health checks may not have noticed the dead one yet.
    /// </summary>
    public CallInvoker Next(CallInvoker? avoid = null)
    {
        var addresses = Addresses();
        if (avoid is not null && addresses.Count > 1)
        {
            addresses = addresses.Where(address => !ReferenceEquals(Invoker(address), avoid)).ToList();
        }

        if (addresses.Count == 0)
        {
            throw new RpcException(new Grpc.Core.Status(StatusCode.Unavailable,
                $"The upstream cluster '{options.CurrentValue.Upstream.GrpcCluster}' has no available destination."));
        }

        var index = (int)((uint)Interlocked.Increment(ref _next) % (uint)addresses.Count);
        return Invoker(addresses[index]);
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

    private CallInvoker Invoker(string address) => _invokers.GetOrAdd(address, static (address, channels) => channels.For(address).CreateCallInvoker(), this);

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
