using System.Collections.Concurrent;
using Microsoft.Extensions.Hosting;

namespace EdgeBridge.WebSockets;

/// <summary>The live connections; on shutdown each is told to reconnect elsewhere (close 1001).</summary>
internal sealed class ConnectionRegistry
{
    private readonly ConcurrentDictionary<string, Connection> _connections = new(StringComparer.Ordinal);

    public ConnectionRegistry(IHostApplicationLifetime lifetime)
    {
        lifetime.ApplicationStopping.Register(() =>
        {
            foreach (var connection in _connections.Values)
            {
                connection.RequestClose(CloseCodes.GoingAway, "The edge is shutting down; reconnect.");
            }
        });
    }

    public int Count => _connections.Count;

    public IEnumerable<Connection> Connections => _connections.Values;

    public void Add(Connection connection) => _connections[connection.Id] = connection;

    public void Remove(Connection connection) => _connections.TryRemove(connection.Id, out _);
}
