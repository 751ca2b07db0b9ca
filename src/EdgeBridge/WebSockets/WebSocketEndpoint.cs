using EdgeBridge.Contracts;
using EdgeBridge.Security;
using EdgeBridge.Responses;
using EdgeBridge.Streams;
using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace EdgeBridge.WebSockets;

/// <summary>Maps the <c>edgebridge.v1</c> endpoint: checks the upgrade, then runs a <see cref="WebSocketConnection"/>.</summary>
internal static partial class WebSocketEndpoint
{
    private const string LogCategory = "EdgeBridge.WebSockets.WebSocketEndpoint";

    public static IEndpointConventionBuilder Map(IEndpointRouteBuilder endpoints)
    {
        var options = endpoints.ServiceProvider.GetRequiredService<IOptions<EdgeBridgeOptions>>().Value.WebSockets;

        // WebSockets are enabled only on this branch: nothing else on the edge accepts upgrades.
        var branch = endpoints.CreateApplicationBuilder();
        branch.Use(static (context, next) =>
        {
            // The middleware below takes the upgrade feature when the request arrives: swap in the batching one first.
            var batchBytes = context.RequestServices.GetRequiredService<IOptionsMonitor<EdgeBridgeOptions>>().CurrentValue.WebSockets.MaxWriteBatchBytes;
            if (batchBytes > 0 && context.Features.Get<IHttpUpgradeFeature>() is { IsUpgradableRequest: true } upgrade)
            {
                context.Features.Set<IHttpUpgradeFeature>(new CoalescingUpgradeFeature(upgrade, batchBytes));
            }

            return next(context);
        });
        branch.UseWebSockets(new Microsoft.AspNetCore.Builder.WebSocketOptions { KeepAliveInterval = TimeSpan.Zero });
        branch.Run(HandleAsync);
        return endpoints.Map(options.Path, branch.Build()).WithDisplayName("EdgeBridge WebSocket");
    }

    /// <summary>Every refusal is logged and counted under the same reason.</summary>
    private static void Refused(IServiceProvider services, ILogger logger, string reason)
    {
        Log.UpgradeRefused(logger, reason);
        services.GetRequiredService<Diagnostics.EdgeBridgeMetrics>().HandshakeRejected(reason.Replace(' ', '-'));
    }

    private static async Task HandleAsync(HttpContext context)
    {
        var services = context.RequestServices;
        var logger = services.GetRequiredService<ILoggerFactory>().CreateLogger(LogCategory);
        SecurityHeaders.Apply(context);
        if (!context.WebSockets.IsWebSocketRequest)
        {
            Refused(services, logger, "not a WebSocket upgrade");
            await RpcStatusWriter.WriteAsync(context, StatusCode.InvalidArgument,
                $"This endpoint speaks WebSocket with subprotocol {ServerFrames.Subprotocol}; send an upgrade request.", StatusCodes.Status400BadRequest);
            return;
        }

        if (!context.WebSockets.WebSocketRequestedProtocols.Contains(ServerFrames.Subprotocol, StringComparer.Ordinal))
        {
            Refused(services, logger, "subprotocol not offered");
            await RpcStatusWriter.WriteAsync(context, StatusCode.InvalidArgument,
                $"Offer the WebSocket subprotocol {ServerFrames.Subprotocol} (Sec-WebSocket-Protocol).", StatusCodes.Status400BadRequest);
            return;
        }

        // Browsers send cookies and no preflight with a cross-site upgrade: only allowed origins get a socket.
        if (!BrowserOrigins.IsAllowed(context, out var origin))
        {
            Refused(services, logger, "origin not allowed");
            await BrowserOrigins.RefuseAsync(context, origin!);
            return;
        }

        var options = services.GetRequiredService<IOptionsMonitor<EdgeBridgeOptions>>().CurrentValue.WebSockets;
        var address = context.Connection.RemoteIpAddress ?? System.Net.IPAddress.None;
        if (!await ConnectionGate.TryEnterAsync(context, address, options, reason => Refused(services, logger, reason)))
        {
            return;
        }

        try
        {
            using var socket = await context.WebSockets.AcceptWebSocketAsync(new WebSocketAcceptContext { SubProtocol = ServerFrames.Subprotocol });
            await RunAsync(socket, services, options, address, (context.Features.Get<IHttpUpgradeFeature>() as CoalescingUpgradeFeature)?.Stream,
                System.Diagnostics.Activity.Current?.Context ?? default, context.RequestAborted);
        }
        finally
        {
            services.GetRequiredService<ConnectionRegistry>().Release(address);
        }
    }

    /// <summary>Runs an accepted socket as a <see cref="WebSocketConnection"/>, whichever way it was upgraded.</summary>
    public static async Task RunAsync(System.Net.WebSockets.WebSocket socket, IServiceProvider services, EdgeWebSocketOptions options, System.Net.IPAddress address,
        CoalescingStream? batching, System.Diagnostics.ActivityContext trace, CancellationToken aborted)
    {
        var registry = services.GetRequiredService<ConnectionRegistry>();
        var time = services.GetRequiredService<TimeProvider>();
        var id = WebSocketConnection.NewId();
        var scheduler = new OutboundScheduler();
        var control = new ControlQueue(scheduler, options.MaxPendingControlFrames);
        var session = new WebSocketSession(id, address, options, services.GetRequiredService<ContractSource>(), services.GetRequiredService<UpstreamStreams>(),
            services.GetRequiredService<EdgeTokens>(), time, scheduler, control, trace, services.GetRequiredService<ILogger<WebSocketSession>>(),
            services.GetRequiredService<Upstream.UpstreamCalls>());
        var connection = new WebSocketConnection(id, socket, options, session, scheduler, control, time,
            services.GetRequiredService<Diagnostics.EdgeBridgeMetrics>(), services.GetRequiredService<ILogger<WebSocketConnection>>())
        {
            RemoteAddress = address.ToString(),
            Batching = batching,
        };
        registry.Add(connection);
        try
        {
            await connection.RunAsync(aborted);
        }
        finally
        {
            registry.Remove(connection);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1, EventName = "UpgradeRefused", Level = LogLevel.Information, Message = "Refused a WebSocket request: {Reason}")]
        public static partial void UpgradeRefused(ILogger logger, string reason);
    }
}
