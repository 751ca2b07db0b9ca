using System.Globalization;
using System.Net;
using EdgeBridge.Responses;
using Grpc.Core;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace EdgeBridge.WebSockets;

/// <summary>
/// The way in for a long-lived connection — a socket or an HTTP stream: refused while the edge drains, admitted at
/// the handshake rates (<see cref="HandshakeAdmission"/>), then counted against the connection caps
/// (<see cref="ConnectionRegistry"/>). A refusal is answered here, in REST's terms with <c>Retry-After</c>.
/// </summary>
internal static class ConnectionGate
{
    /// <summary>
    /// True when <paramref name="address"/> holds a reserved slot, to be given back with
    /// <see cref="ConnectionRegistry.Release"/>; otherwise the refusal was written and <paramref name="refused"/> told why.
    /// </summary>
    public static async Task<bool> TryEnterAsync(HttpContext context, IPAddress address, EdgeWebSocketOptions limits, Action<string> refused)
    {
        var services = context.RequestServices;
        var registry = services.GetRequiredService<ConnectionRegistry>();
        if (registry.Stopping)
        {
            refused("edge draining");

            // Soon enough for the balancer to have taken this edge out of rotation.
            context.Response.Headers.RetryAfter = "1";
            await RpcStatusWriter.WriteAsync(context, StatusCode.Unavailable,
                "This edge is shutting down; connect to another edge.", StatusCodes.Status503ServiceUnavailable);
            return false;
        }

        if (services.GetRequiredService<HandshakeAdmission>().TryAdmit(address) is { } notAdmitted)
        {
            context.Response.Headers.RetryAfter = notAdmitted.RetryAfterSeconds.ToString(CultureInfo.InvariantCulture);
            if (notAdmitted.Edge)
            {
                refused("edge at its handshake rate");
                await RpcStatusWriter.WriteAsync(context, StatusCode.Unavailable,
                    $"This edge is admitting new connections at its rate; retry after {notAdmitted.RetryAfterSeconds} s.", StatusCodes.Status503ServiceUnavailable);
            }
            else
            {
                refused("address at its handshake rate");
                await RpcStatusWriter.WriteAsync(context, StatusCode.ResourceExhausted,
                    $"Too many new connections from this address; retry after {notAdmitted.RetryAfterSeconds} s.", StatusCodes.Status429TooManyRequests);
            }

            return false;
        }

        switch (registry.TryReserve(address, limits))
        {
            case ConnectionRefusal.EdgeFull:
                refused("edge at its connection limit");
                await RpcStatusWriter.WriteAsync(context, StatusCode.Unavailable,
                    $"This edge has reached its limit of {limits.MaxConnections} connections; retry, possibly on another edge.", StatusCodes.Status503ServiceUnavailable);
                return false;
            case ConnectionRefusal.AddressFull:
                refused("address at its connection limit");
                context.Response.Headers.RetryAfter = "5";
                await RpcStatusWriter.WriteAsync(context, StatusCode.ResourceExhausted,
                    $"Too many connections from this address (limit {limits.MaxConnectionsPerAddress}).", StatusCodes.Status429TooManyRequests);
                return false;
        }

        return true;
    }
}
