using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Routing.Matching;

namespace EdgeBridge.Listeners;

/// <summary>
/// Routing sees only the endpoints of the listener a request arrived on: an endpoint whose
/// <see cref="EdgeListenerMetadata"/> names none of the listener's roles is not a candidate there, and routing goes
/// on to the next one (in the end the fallback's 404). So gRPC routes do not exist on a browser listener, whatever
/// <c>Content-Type</c> a client sends there.
/// </summary>
/// <remarks>
/// A node-builder policy, like ASP.NET Core's HTTP method policy: the matcher's tree gets one branch per
/// combination of listener roles when it is built, and a request only looks its listener's roles up in a jump table.
/// An endpoint-selector policy would send every request down the router's asynchronous selection path.
/// </remarks>
internal sealed class ListenerMatcherPolicy : MatcherPolicy, INodeBuilderPolicy
{
    private const int Combinations = (int)(EdgeListenerRoles.Browser | EdgeListenerRoles.Grpc | EdgeListenerRoles.Operations) + 1;

    // Before the policies that turn a mismatch into an answer (405 for the HTTP method, 415 for the content type).
    public override int Order => -1000;

    public bool AppliesToEndpoints(IReadOnlyList<Endpoint> endpoints)
    {
        foreach (var endpoint in endpoints)
        {
            if (endpoint.Metadata.GetMetadata<EdgeListenerMetadata>() is not null)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>One edge per combination of a listener's roles, holding the endpoints reachable through it.</summary>
    public IReadOnlyList<PolicyNodeEdge> GetEdges(IReadOnlyList<Endpoint> endpoints)
    {
        var edges = new List<PolicyNodeEdge>(Combinations - 1);
        for (var roles = 1; roles < Combinations; roles++)
        {
            var reachable = endpoints.Where(e => e.Metadata.GetMetadata<EdgeListenerMetadata>() is not { } required || ((int)required.Roles & roles) != 0).ToList();
            edges.Add(new PolicyNodeEdge((EdgeListenerRoles)roles, reachable));
        }

        return edges;
    }

    public PolicyJumpTable BuildJumpTable(int exitDestination, IReadOnlyList<PolicyJumpTableEdge> edges)
    {
        var destinations = new int[Combinations];
        Array.Fill(destinations, exitDestination);
        foreach (var edge in edges)
        {
            destinations[(int)(EdgeListenerRoles)edge.State] = edge.Destination;
        }

        return new RolesJumpTable(destinations);
    }

    private sealed class RolesJumpTable(int[] destinations) : PolicyJumpTable
    {
        public override int GetDestination(HttpContext httpContext) =>
            destinations[(int)EdgeListenerFeature.RolesOf(httpContext) & (destinations.Length - 1)];
    }
}
