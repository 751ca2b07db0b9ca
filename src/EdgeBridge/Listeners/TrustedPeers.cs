using System.Net;

namespace EdgeBridge.Listeners;

/// <summary>The peers a listener takes PROXY protocol headers from (<c>TrustedProxies</c>): addresses and networks.</summary>
internal sealed class TrustedPeers
{
    private readonly IPNetwork[] _networks;

    private TrustedPeers(IPNetwork[] networks) => _networks = networks;

    /// <summary>Parses <c>10.0.0.5</c> (one address) or <c>10.0.0.0/24</c> (a network), IPv4 or IPv6.</summary>
    public static bool TryParse(string value, out IPNetwork network)
    {
        if (IPNetwork.TryParse(value, out network))
        {
            return true;
        }

        if (IPAddress.TryParse(value, out var address))
        {
            network = new IPNetwork(address, address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? 32 : 128);
            return true;
        }

        return false;
    }

    /// <summary>The configured peers; the validator has already refused any entry that does not parse.</summary>
    public static TrustedPeers Parse(IEnumerable<string> values) =>
        new([.. values.Select(value => TryParse(value, out var network) ? network : throw new FormatException($"'{value}' is not an IP address or network."))]);

    public bool Contains(IPAddress? address)
    {
        if (address is null)
        {
            return false;
        }

        // A dual-stack listener sees IPv4 balancers as ::ffff:a.b.c.d.
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        foreach (var network in _networks)
        {
            if (network.Contains(address))
            {
                return true;
            }
        }

        return false;
    }
}
