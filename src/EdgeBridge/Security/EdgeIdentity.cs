using EdgeBridge.Status;
using Grpc.Core;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace EdgeBridge.Security;

/// <summary>
/// Checks the bearer token of every forwarded request before anything reaches the backend, and owns the headers
/// that carry identity past the edge: clients can never set them, the edge sets them from a validated token.
/// </summary>
internal static class EdgeIdentity
{
    /// <summary>Every request header with this prefix is the edge's own; incoming ones are removed.</summary>
    public const string HeaderPrefix = "x-edgebridge-";

    /// <summary>The validated token's subject, for backends that trust the edge.</summary>
    public const string UserHeader = "x-edgebridge-user";

    private const string SubjectItem = "EdgeBridge.Subject";

    public static string? Subject(HttpContext context) => context.Items.TryGetValue(SubjectItem, out var subject) ? subject as string : null;

    public static async Task InvokeAsync(HttpContext context, Func<Task> next)
    {
        var headers = context.Request.Headers;
        foreach (var name in headers.Keys.Where(k => k.StartsWith(HeaderPrefix, StringComparison.OrdinalIgnoreCase)).ToList())
        {
            headers.Remove(name);
        }

        var authorization = headers.Authorization.ToString();
        if (authorization.Length > 0)
        {
            var validator = context.RequestServices.GetRequiredService<TokenValidator>();
            var check = await validator.ValidateHeaderAsync(authorization);
            if (!check.Valid)
            {
                context.Response.Headers.WWWAuthenticate = $"Bearer error=\"invalid_token\", error_description=\"{check.Problem}\"";
                await RpcStatusWriter.WriteAsync(context, StatusCode.Unauthenticated, $"The bearer token was rejected by the edge: {check.Problem}.");
                return;
            }

            if (check.Subject is { } subject)
            {
                context.Items[SubjectItem] = subject;
                headers[UserHeader] = subject;
            }
        }

        await next();
    }
}
