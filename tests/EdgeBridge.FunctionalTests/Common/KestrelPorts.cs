using System.Net;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace EdgeBridge.FunctionalTests.Common;

/// <summary>
/// Captures the listen options of named Kestrel endpoints so a test can read the ports the OS picked for
/// <c>:0</c> (Kestrel writes the bound endpoint back into them).
/// </summary>
internal sealed class KestrelPorts
{
    private readonly Dictionary<string, ListenOptions> _endpoints = new(StringComparer.OrdinalIgnoreCase);

    public void Capture(KestrelServerOptions kestrel, IConfiguration configuration, params string[] names)
    {
        var loader = kestrel.Configure(configuration.GetSection("Kestrel"));
        foreach (var name in names)
        {
            loader.Endpoint(name, endpoint => _endpoints[name] = endpoint.ListenOptions);
        }
    }

    public int Port(string name) => ((IPEndPoint)_endpoints[name].EndPoint).Port;
}
