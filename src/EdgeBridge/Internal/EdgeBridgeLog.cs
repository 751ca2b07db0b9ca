using Microsoft.Extensions.Logging;
using Yarp.ReverseProxy.Forwarder;

namespace EdgeBridge.Internal;

internal static partial class EdgeBridgeLog
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Warning, Message = "Forwarding {Method} {Path} failed with {Error}; answered {StatusCode}.")]
    public static partial void ForwardingFailed(ILogger logger, string method, string path, ForwarderError error, int statusCode, Exception? exception);

    [LoggerMessage(EventId = 2, Level = LogLevel.Debug, Message = "Forwarding {Method} {Path} stopped with {Error}; answered {StatusCode}.")]
    public static partial void ForwardingRejected(ILogger logger, string method, string path, ForwarderError error, int statusCode);
}
