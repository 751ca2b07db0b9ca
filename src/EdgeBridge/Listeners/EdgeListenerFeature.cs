using Microsoft.AspNetCore.Http;

namespace EdgeBridge.Listeners;

/// <summary>
/// The listener a connection was accepted on, set on the connection by <c>ListenOptions.UseEdgeBridge</c>
/// and visible on every request of it. The server sets it, so nothing a client sends can change it: every trust
/// decision that depends on "which door did this come through" reads it.
/// </summary>
internal sealed class EdgeListenerFeature(string? name, EdgeListenerRoles roles)
{
    /// <summary>Roles of a connection on a listener EdgeBridge was not told about.</summary>
    public const EdgeListenerRoles DefaultRoles = EdgeListenerRoles.Browser;

    /// <summary>The Kestrel endpoint's name, when it has one.</summary>
    public string? Name { get; } = name;

    public EdgeListenerRoles Roles { get; } = roles;

    /// <summary>The roles of the listener <paramref name="context"/> arrived on.</summary>
    public static EdgeListenerRoles RolesOf(HttpContext context) => context.Features.Get<EdgeListenerFeature>()?.Roles ?? DefaultRoles;
}

/// <summary>
/// Endpoint metadata: the endpoint exists only on listeners with one of <see cref="Roles"/>. Endpoints without it
/// exist on every listener.
/// </summary>
public sealed class EdgeListenerMetadata(EdgeListenerRoles roles)
{
    /// <summary>The roles a listener needs (any one of them) to reach the endpoint.</summary>
    public EdgeListenerRoles Roles { get; } = roles;
}

/// <summary>The named listeners EdgeBridge configured, with their roles and (once bound) their addresses.</summary>
internal sealed class EdgeListeners
{
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, (EdgeListenerRoles Roles, Microsoft.AspNetCore.Server.Kestrel.Core.ListenOptions Listen)> _listeners =
        new(StringComparer.OrdinalIgnoreCase);

    public void Add(string name, EdgeListenerRoles roles, Microsoft.AspNetCore.Server.Kestrel.Core.ListenOptions listen) => _listeners[name] = (roles, listen);

    /// <summary>The port the OS bound for listener <paramref name="name"/> (Kestrel writes it back for port 0).</summary>
    public int Port(string name) => ((System.Net.IPEndPoint)_listeners[name].Listen.EndPoint).Port;

    public IReadOnlyCollection<string> Names => [.. _listeners.Keys];
}
