using System.Collections.Concurrent;
using Microsoft.Extensions.Hosting;

namespace EdgeBridge.WebSockets;

/// <summary>The live connections; on shutdown each is told to reconnect elsewhere (close 1001).</summary>
internal sealed class ConnectionRegistry
{
    private readonly ConcurrentDictionary<string, Connection> _connections = new(StringComparer.Ordinal);
    private readonly Dictionary<System.Net.IPAddress, int> _perAddress = [];
    private readonly Lock _countLock = new();
    private int _reserved;
    private volatile bool _stopping;

    public ConnectionRegistry(IHostApplicationLifetime lifetime)
    {
        lifetime.ApplicationStopping.Register(() =>
        {
            _stopping = true;
            foreach (var connection in _connections.Values)
            {
                SendAway(connection);
            }
        });
    }

    /// <summary>Whether the edge is draining: new sockets are refused and live ones are sent away.</summary>
    public bool Stopping => _stopping;

    public int Count => _connections.Count;

    public IEnumerable<Connection> Connections => _connections.Values;

    public void Add(Connection connection)
    {
        _connections[connection.Id] = connection;

        // Accepted while the stopping callback ran: it may not have seen this one.
        if (_stopping)
        {
            SendAway(connection);
        }
    }

    private static void SendAway(Connection connection) =>
        connection.RequestClose(CloseCodes.GoingAway, "The edge is shutting down; reconnect.");

    public void Remove(Connection connection) => _connections.TryRemove(connection.Id, out _);

    /// <summary>Reserves a connection slot for <paramref name="address"/>; null when granted, else why not.</summary>
    public ConnectionRefusal? TryReserve(System.Net.IPAddress address, WebSocketOptions limits)
    {
        lock (_countLock)
        {
            if (_reserved >= limits.MaxConnections)
            {
                return ConnectionRefusal.EdgeFull;
            }

            var current = _perAddress.GetValueOrDefault(address);
            if (current >= limits.MaxConnectionsPerAddress)
            {
                return ConnectionRefusal.AddressFull;
            }

            _perAddress[address] = current + 1;
            _reserved++;
            return null;
        }
    }

    public void Release(System.Net.IPAddress address)
    {
        lock (_countLock)
        {
            _reserved--;
            if (_perAddress.TryGetValue(address, out var current))
            {
                if (current <= 1)
                {
                    _perAddress.Remove(address);
                }
                else
                {
                    _perAddress[address] = current - 1;
                }
            }
        }
    }
}

internal enum ConnectionRefusal
{
    EdgeFull,
    AddressFull,
}
