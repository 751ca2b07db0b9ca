using EdgeBridge;
using EdgeBridge.Listeners;
using EdgeBridge.WebSockets;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Microsoft.AspNetCore.Hosting;

/// <summary>Gives Kestrel listeners their EdgeBridge roles: one trust boundary per listener.</summary>
public static class EdgeBridgeListenOptionsExtensions
{
    /// <summary>
    /// Marks every connection accepted on this listener with <paramref name="roles"/>: only the routes and endpoints
    /// bound to one of them exist there. With <paramref name="directUpgrade"/>, plain WebSocket upgrades to the
    /// EdgeBridge endpoint are taken at the connection level (see <see cref="EdgeListenerOptions.DirectUpgrade"/>).
    /// </summary>
    public static ListenOptions UseEdgeBridge(this ListenOptions listen, EdgeListenerRoles roles, bool directUpgrade = false)
    {
        ArgumentNullException.ThrowIfNull(listen);
        return listen.UseEdgeBridge(name: null, roles, directUpgrade ? static _ => true : null);
    }

    /// <summary>
    /// Applies <see cref="EdgeBridgeOptions.Listeners"/> to the named endpoints of Kestrel's configuration
    /// (<c>Kestrel:Endpoints</c>): each listed endpoint gets its roles, and its direct upgrades when they are on.
    /// Call it in <c>ConfigureKestrel</c>; endpoints that are not listed serve the Browser role only. Kestrel keeps one
    /// callback per endpoint name, so a later <c>Endpoint(name, …)</c> for a listed name replaces this one.
    /// </summary>
    public static KestrelServerOptions UseEdgeBridgeListeners(this KestrelServerOptions kestrel)
    {
        ArgumentNullException.ThrowIfNull(kestrel);
        var services = kestrel.ApplicationServices;
        var options = services.GetRequiredService<IOptionsMonitor<EdgeBridgeOptions>>();
        var listeners = services.GetRequiredService<EdgeListeners>();
        var loader = kestrel.ConfigurationLoader
            ?? throw new InvalidOperationException("Kestrel has no configuration loader: call KestrelServerOptions.Configure(section) before UseEdgeBridgeListeners().");
        foreach (var (name, listener) in options.CurrentValue.Listeners)
        {
            // Read per connection, so that a direct upgrade can be switched off without a restart.
            Func<EdgeBridgeOptions, bool>? directUpgrade = listener.DirectUpgrade
                ? current => current.Listeners.TryGetValue(name, out var now) && now.DirectUpgrade
                : null;
            loader.Endpoint(name, endpoint =>
            {
                listeners.Add(name, listener.Roles, endpoint.ListenOptions);
                if (listener.ProxyProtocol)
                {
                    // First: everything after it, the roles and direct upgrades included, sees the client's address.
                    endpoint.ListenOptions.UseProxyProtocol(kestrel.Limits.RequestHeadersTimeout, TrustedPeers.Parse(listener.TrustedProxies));
                }

                endpoint.ListenOptions.UseEdgeBridge(name, listener.Roles, directUpgrade);
            });
        }

        return kestrel;
    }

    private static void UseProxyProtocol(this ListenOptions listen, TimeSpan headerTimeout, TrustedPeers trusted)
    {
        var services = listen.ApplicationServices;
        var time = services.GetRequiredService<TimeProvider>();
        var logger = services.GetRequiredService<Microsoft.Extensions.Logging.ILogger<ProxyProtocol>>();
        listen.Use(next => new ProxyProtocol(next, headerTimeout, time, logger, trusted).OnConnectionAsync);
    }

    private static ListenOptions UseEdgeBridge(this ListenOptions listen, string? name, EdgeListenerRoles roles, Func<EdgeBridgeOptions, bool>? directUpgrade)
    {
        var feature = new EdgeListenerFeature(name, roles);
        listen.Use(next => context =>
        {
            context.Features.Set(feature);
            return next(context);
        });

        if (directUpgrade is not null)
        {
            if (!roles.HasFlag(EdgeListenerRoles.Browser))
            {
                throw new InvalidOperationException($"Listener '{name}': direct upgrades need the Browser role.");
            }

            listen.Use(next => new DirectUpgrade(next, listen.ApplicationServices, directUpgrade).OnConnectionAsync);
        }

        return listen;
    }
}
