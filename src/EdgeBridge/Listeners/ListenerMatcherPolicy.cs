using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Routing.Matching;

namespace EdgeBridge.Listeners;

/// <summary>
/// Routing sees only the endpoints of the listener a request arrived on: a candidate whose
/// <see cref="EdgeListenerMetadata"/> names none of the listener's roles is not a match, and routing goes on to the
/// next one (in the end the fallback's 404). So gRPC routes do not exist on a browser listener, whatever
/// <c>Content-Type</c> a client sends there.
/// </summary>
internal sealed class ListenerMatcherPolicy : MatcherPolicy, IEndpointSelectorPolicy
{
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

    public Task ApplyAsync(HttpContext httpContext, CandidateSet candidates)
    {
        var roles = EdgeListenerFeature.RolesOf(httpContext);
        for (var i = 0; i < candidates.Count; i++)
        {
            if (candidates.IsValidCandidate(i) && candidates[i].Endpoint.Metadata.GetMetadata<EdgeListenerMetadata>() is { } required
                && (required.Roles & roles) == 0)
            {
                candidates.SetValidity(i, false);
            }
        }

        return Task.CompletedTask;
    }
}
