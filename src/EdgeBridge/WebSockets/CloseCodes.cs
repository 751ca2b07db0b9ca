using System.Net.WebSockets;

namespace EdgeBridge.WebSockets;

/// <summary>Close codes of <c>edgebridge.v1</c> (documented in docs/websocket-protocol.md).</summary>
internal static class CloseCodes
{
    public const WebSocketCloseStatus Normal = WebSocketCloseStatus.NormalClosure;
    public const WebSocketCloseStatus GoingAway = WebSocketCloseStatus.EndpointUnavailable;
    public const WebSocketCloseStatus TooBig = WebSocketCloseStatus.MessageTooBig;
    public const WebSocketCloseStatus InternalError = WebSocketCloseStatus.InternalServerError;
    public const WebSocketCloseStatus ClosedByOperator = WebSocketCloseStatus.PolicyViolation;
    public const WebSocketCloseStatus TooManyMalformedFrames = (WebSocketCloseStatus)4400;
    public const WebSocketCloseStatus Unauthorized = (WebSocketCloseStatus)4401;
    public const WebSocketCloseStatus Timeout = (WebSocketCloseStatus)4408;
    public const WebSocketCloseStatus RateLimited = (WebSocketCloseStatus)4429;
}
