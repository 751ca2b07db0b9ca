using Microsoft.Extensions.Logging;
using Yarp.ReverseProxy.Forwarder;

namespace EdgeBridge.Internal;

internal static partial class EdgeBridgeLog
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Warning, Message = "Forwarding {Method} {Path} failed with {Error}; answered {StatusCode}.")]
    public static partial void ForwardingFailed(ILogger logger, string method, string path, ForwarderError error, int statusCode, Exception? exception);

    [LoggerMessage(EventId = 2, Level = LogLevel.Debug, Message = "Forwarding {Method} {Path} stopped with {Error}; answered {StatusCode}.")]
    public static partial void ForwardingRejected(ILogger logger, string method, string path, ForwarderError error, int statusCode);

    [LoggerMessage(EventId = 10, Level = LogLevel.Debug, Message = "WebSocket connection {ConnectionId} opened.")]
    public static partial void ConnectionOpened(ILogger logger, string connectionId);

    [LoggerMessage(EventId = 11, Level = LogLevel.Debug, Message = "WebSocket connection {ConnectionId} ended (close code {CloseCode}).")]
    public static partial void ConnectionClosed(ILogger logger, string connectionId, int? closeCode);

    [LoggerMessage(EventId = 12, Level = LogLevel.Information, Message = "Closing WebSocket connection {ConnectionId} with {CloseCode}: {Reason}")]
    public static partial void ClosingConnection(ILogger logger, string connectionId, int closeCode, string reason);

    [LoggerMessage(EventId = 13, Level = LogLevel.Information, Message = "WebSocket connection {ConnectionId} stopped answering pings; aborted.")]
    public static partial void ConnectionVanished(ILogger logger, string connectionId);

    [LoggerMessage(EventId = 14, Level = LogLevel.Debug, Message = "Connection {ConnectionId} subscribed {SubscriptionId} to {Method}.")]
    public static partial void Subscribed(ILogger logger, string connectionId, string subscriptionId, string method);

    [LoggerMessage(EventId = 15, Level = LogLevel.Information, Message = "Refused a WebSocket request: {Reason}")]
    public static partial void UpgradeRefused(ILogger logger, string reason);

    [LoggerMessage(EventId = 16, Level = LogLevel.Error, Message = "WebSocket connection {ConnectionId} failed unexpectedly; closing with 1011.")]
    public static partial void ConnectionFailed(ILogger logger, string connectionId, Exception exception);
}
