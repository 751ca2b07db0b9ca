using EdgeBridge.Responses;
using EdgeBridge.Security;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace EdgeBridge.Documents;

/// <summary><c>/openapi/v1.json</c>, <c>/asyncapi/v1.json</c> and the offline <c>/docs</c> page that can try both.</summary>
internal static class DocumentEndpoints
{
    public static IEndpointConventionBuilder Map(IEndpointRouteBuilder endpoints) => new EdgeBridgeEndpointConventionBuilder(
    [
        // Browsers on other allowed origins (tooling) may read the documents.
        endpoints.MapGet("/openapi/v1.json", static context =>
            WriteAsync(context, context.RequestServices.GetRequiredService<ContractDocuments>().OpenApi, "application/json")).RequireCors(EdgeBridgeDefaults.CorsPolicy),
        endpoints.MapGet("/asyncapi/v1.json", static context =>
            WriteAsync(context, context.RequestServices.GetRequiredService<ContractDocuments>().AsyncApi(context.Request.Host.Value ?? "localhost", context.Request.IsHttps), "application/json"))
            .RequireCors(EdgeBridgeDefaults.CorsPolicy),
        endpoints.MapGet("/docs", static context => WriteResourceAsync(context, "docs.html", "text/html; charset=utf-8")),
        endpoints.MapGet("/docs/docs.js", static context => WriteResourceAsync(context, "docs.js", "text/javascript; charset=utf-8")),
    ]);

    private static Task WriteAsync(HttpContext context, byte[] body, string contentType)
    {
        SecurityHeaders.Apply(context);
        context.Response.ContentType = contentType;
        context.Response.Headers.CacheControl = "no-cache";
        context.Response.ContentLength = body.Length;
        return context.Response.Body.WriteAsync(body).AsTask();
    }

    private static async Task WriteResourceAsync(HttpContext context, string name, string contentType)
    {
        await using var stream = typeof(DocumentEndpoints).Assembly.GetManifestResourceStream("EdgeBridge.Documents." + name)!;
        SecurityHeaders.Apply(context, SecurityHeaders.PagePolicy);
        context.Response.ContentType = contentType;
        context.Response.Headers.CacheControl = "no-cache";
        context.Response.ContentLength = stream.Length;
        await stream.CopyToAsync(context.Response.Body, context.RequestAborted);
    }
}
