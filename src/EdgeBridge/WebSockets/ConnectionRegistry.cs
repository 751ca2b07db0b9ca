using System.Collections.Concurrent;
using Microsoft.Extensions.Options;

namespace EdgeBridge.WebSockets;

/// <summary>
/// The live connections: one keepalive sweep runs over all of them, and when the edge drains
/// (<see cref="Operations.EdgeDrain"/>) each is told to reconnect elsewhere: a <c>goaway</c> frame first, close 1001
/// for whoever is still here at the end of the drain.
/// </summary>
internal sealed class ConnectionRegistry : IDisposable
{
    private readonly ConcurrentDictionary<string, WebSocketConnection> _connections = new(StringComparer.Ordinal);
    private readonly Dictionary<System.Net.IPAddress, int> _perAddress = [];
    private readonly Lock _countLock = new();
    private int _reserved;
    private readonly IOptionsMonitor<EdgeBridgeOptions> _options;
    private readonly TimeProvider _time;
    private readonly ITimer _keepAlive;
    private TimeSpan _keepAlivePeriod;
    private readonly TaskCompletionSource _emptied = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _draining = new();
    private volatile bool _sendingAway;
    private byte[]? _goAway;

    /// <summary>The close reason of 1001: the edge is going away.</summary>
    public const string GoingAwayReason = "The edge is shutting down; reconnect.";

    public ConnectionRegistry(IOptionsMonitor<EdgeBridgeOptions> options, TimeProvider time)
    {
        _options = options;
        _time = time;
        _keepAlivePeriod = KeepAlivePeriod(options.CurrentValue.WebSockets);
        _keepAlive = time.CreateTimer(static state => ((ConnectionRegistry)state!).SweepKeepAlive(), this, _keepAlivePeriod, _keepAlivePeriod);
    }

    /// <summary>Whether the edge is draining: new sockets are refused and live ones are sent away.</summary>
    public bool Stopping => _draining.IsCancellationRequested;

    /// <summary>Cancelled when the drain begins: HTTP streams end then, and their clients reconnect elsewhere.</summary>
    public CancellationToken Draining => _draining.Token;

    /// <summary>Completes once the edge drains and its last connection has gone.</summary>
    public Task Emptied => _emptied.Task;

    /// <summary>
    /// Starts the drain: from now on new sockets are refused, and every live one is handed <paramref name="goAway"/>
    /// so that its client reconnects elsewhere while this edge still serves it.
    /// </summary>
    public void BeginDrain(byte[] goAway)
    {
        _goAway = goAway;
        _draining.Cancel();
        foreach (var connection in _connections.Values)
        {
            connection.GoAway(goAway);
        }

        CompleteIfEmpty();
    }

    /// <summary>The end of the drain: whoever is still connected is closed with 1001.</summary>
    public void SendAwayAll()
    {
        _sendingAway = true;
        _draining.Cancel();
        foreach (var connection in _connections.Values)
        {
            SendAway(connection);
        }

        CompleteIfEmpty();
    }

    public int Count => _connections.Count;

    public IEnumerable<WebSocketConnection> Connections => _connections.Values;

    public void Add(WebSocketConnection connection)
    {
        _connections[connection.Id] = connection;

        // Accepted while the drain began: it may not have seen this one.
        if (_sendingAway)
        {
            SendAway(connection);
        }
        else if (Stopping)
        {
            connection.GoAway(_goAway!);
        }
    }

    public void Dispose()
    {
        _keepAlive.Dispose();
        _draining.Dispose();
    }

    // Half the shorter of interval and timeout, so a quiet client is pinged and a silent one cut within ~1.5x.
    private static TimeSpan KeepAlivePeriod(EdgeWebSocketOptions options) =>
        TimeSpan.FromMilliseconds(Math.Max(50, Math.Min(options.KeepAliveInterval.TotalMilliseconds, options.KeepAliveTimeout.TotalMilliseconds) / 2));

    private void SweepKeepAlive()
    {
        var now = _time.GetTimestamp();
        foreach (var connection in _connections.Values)
        {
            connection.KeepAlive(now);
        }

        // The settings reload live: follow them.
        var period = KeepAlivePeriod(_options.CurrentValue.WebSockets);
        if (period != _keepAlivePeriod)
        {
            _keepAlivePeriod = period;
            _keepAlive.Change(period, period);
        }
    }

    private static void SendAway(WebSocketConnection connection) =>
        connection.RequestClose(CloseCodes.GoingAway, GoingAwayReason);

    public void Remove(WebSocketConnection connection)
    {
        _connections.TryRemove(connection.Id, out _);
        if (Stopping)
        {
            CompleteIfEmpty();
        }
    }

    private void CompleteIfEmpty()
    {
        if (_connections.IsEmpty)
        {
            _emptied.TrySetResult();
        }
    }

    /// <summary>Reserves a connection slot for <paramref name="address"/>; null when granted, else why not.</summary>
    public ConnectionRefusal? TryReserve(System.Net.IPAddress address, EdgeWebSocketOptions limits)
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
