using EdgeBridge.Responses;
using EdgeBridge.Security;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.StaticFiles;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.FileProviders;

namespace EdgeBridge.Pages;

/// <summary>
/// Serves the host's pages (its <c>wwwroot</c>: <c>/</c> is <c>index.html</c>) with a self-only Content-Security-Policy.
/// Only top-level files are served, so nothing outside the web root can be reached through a path.
/// </summary>
internal static class PageEndpoints
{
    private static readonly FileExtensionContentTypeProvider s_contentTypes = new();

    public static IEndpointConventionBuilder Map(IEndpointRouteBuilder endpoints) => new EdgeBridgeEndpointConventionBuilder(
    [
        endpoints.MapGet("/", context => ServeAsync(context, "index.html")),
        endpoints.MapGet("/{file:regex(^[A-Za-z0-9_-]+\\.(html|js|css|svg|png|ico|map)$)}", context => ServeAsync(context, (string)context.Request.RouteValues["file"]!)),
    ]);

    private static async Task ServeAsync(HttpContext context, string name)
    {
        var files = context.RequestServices.GetRequiredService<IWebHostEnvironment>().WebRootFileProvider;
        var file = files.GetFileInfo(name);
        if (!file.Exists || file.IsDirectory || file is NotFoundFileInfo)
        {
            await Responses.RpcStatusWriter.WriteAsync(context, Grpc.Core.StatusCode.NotFound, $"No page {context.Request.Path}.");
            return;
        }

        SecurityHeaders.Apply(context, SecurityHeaders.PagePolicy);
        context.Response.ContentType = s_contentTypes.TryGetContentType(name, out var type) ? type : "application/octet-stream";
        // Pages change with deployments, not while running: revalidate, but let the browser keep a copy.
        context.Response.Headers.CacheControl = "no-cache";
        context.Response.ContentLength = file.Length;
        await context.Response.SendFileAsync(file, context.RequestAborted);
    }
}
