using System.Diagnostics;
using EdgeBridge.Contracts;
using Grpc.Core;

namespace EdgeBridge.Diagnostics;

/// <summary>
/// Spans of the WebSocket bridge. A subscription may outlive any request and a shared upstream call outlives
/// the subscription that started it, so neither is a child of what happened to be current: a subscription is
/// the root of its own trace, linked to its connection's span and to the upstream call feeding it; a shared
/// upstream call is a root too, and a per-caller one is the subscription's child. The upstream call is current
/// while the gRPC call starts, so its trace context reaches the backend.
/// </summary>
internal static class EdgeBridgeActivities
{
    public static readonly ActivitySource Source = new(EdgeBridgeDiagnostics.ActivitySourceName);

    public static Activity? StartSubscription(StreamingMethod method, string connectionId, string subscriptionId, ActivityContext connection)
    {
        if (!Source.HasListeners())
        {
            return null;
        }

        var tags = RpcTags(method);
        tags["edgebridge.connection.id"] = connectionId;
        tags["edgebridge.subscription.id"] = subscriptionId;
        ActivityLink[]? links = connection == default ? null : [Link(connection, "connection")];
        return StartDetached("subscribe " + method.FullName, ActivityKind.Server, default, tags, links);
    }

    /// <summary>
    /// The span of a WebSocket upgrade taken at the connection level (no HTTP request span exists for it): it ends
    /// once the socket is accepted, and the connection's subscriptions link to it.
    /// </summary>
    public static Activity? StartDirectUpgrade(string path, System.Net.IPAddress client)
    {
        if (!Source.HasListeners())
        {
            return null;
        }

        var activity = Source.StartActivity("GET " + path, ActivityKind.Server, parentContext: default);
        activity?.SetTag("http.request.method", "GET");
        activity?.SetTag("url.path", path);
        activity?.SetTag("client.address", client.ToString());
        activity?.SetTag("http.response.status_code", 101);
        return activity;
    }

    public static Activity? StartUpstream(StreamingMethod method, ActivityContext parent)
    {
        if (!Source.HasListeners())
        {
            return null;
        }

        return StartDetached(method.FullName, ActivityKind.Client, parent, RpcTags(method), links: null);
    }

    // OpenTelemetry's RPC conventions, plus the method's sharing policy.
    private static ActivityTagsCollection RpcTags(StreamingMethod method) => new()
    {
        ["rpc.system"] = "grpc",
        ["rpc.service"] = method.Descriptor.Service.FullName,
        ["rpc.method"] = method.Descriptor.Name,
        ["edgebridge.shared"] = method.Policy.Shared,
    };

    /// <summary>A link tagged with what it points at (<c>connection</c> or <c>upstream</c>).</summary>
    public static ActivityLink Link(ActivityContext context, string kind) =>
        new(context, new ActivityTagsCollection { ["edgebridge.link"] = kind });

    /// <summary>Records how a span's call ended, in gRPC terms.</summary>
    public static void SetStatus(Activity activity, StatusCode code, string? description = null)
    {
        activity.SetTag("rpc.grpc.status_code", (int)code);
        if (code is not StatusCode.OK and not StatusCode.Cancelled)
        {
            activity.SetStatus(ActivityStatusCode.Error, description ?? code.ToString());
        }
    }

    // Starting an activity makes it current for the caller's async flow; these spans live on their own, so
    // the caller's current activity is put back.
    private static Activity? StartDetached(string name, ActivityKind kind, ActivityContext parent, ActivityTagsCollection tags, ActivityLink[]? links)
    {
        var previous = Activity.Current;
        Activity.Current = null;
        try
        {
            return Source.StartActivity(name, kind, parent, tags, links);
        }
        finally
        {
            Activity.Current = previous;
        }
    }
}
