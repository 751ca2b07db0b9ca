using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using EdgeBridge.Contracts;
using EdgeBridge.Security;
using EdgeBridge.Responses;
using EdgeBridge.WebSockets;
using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace EdgeBridge.Operations;

/// <summary>
/// The operator's view of live connections: <c>GET /admin/connections</c> lists them with their subscriptions
/// (method, age, queue depth, drops); <c>POST /admin/connections/{id}:close</c> closes one; <c>GET /admin/contracts</c>
/// says which contracts are in force and <c>POST /admin/contracts:reload</c> reloads them. All need the
/// configured admin key in <c>x-edgebridge-admin-key</c>; with no key configured the endpoints do not exist.
/// </summary>
internal static class AdminEndpoints
{
    public const string KeyHeader = "x-edgebridge-admin-key";

    public static IEndpointConventionBuilder Map(IEndpointRouteBuilder endpoints) => new EdgeBridgeEndpointConventionBuilder(
    [
        endpoints.MapGet("/admin/connections", static async context =>
        {
            if (!await AuthorizeAsync(context))
            {
                return;
            }

            var now = context.RequestServices.GetRequiredService<TimeProvider>().GetUtcNow();
            var registry = context.RequestServices.GetRequiredService<ConnectionRegistry>();
            using var buffer = new MemoryStream();
            await using (var writer = new Utf8JsonWriter(buffer))
            {
                writer.WriteStartObject();
                writer.WriteStartArray("connections");
                foreach (var connection in registry.Connections.OrderBy(c => c.Opened))
                {
                    writer.WriteStartObject();
                    writer.WriteString("id", connection.Id);
                    writer.WriteString("remoteAddress", connection.RemoteAddress);
                    writer.WriteString("opened", connection.Opened);
                    writer.WriteNumber("ageSeconds", Math.Round((now - connection.Opened).TotalSeconds, 1));
                    writer.WriteStartArray("subscriptions");
                    foreach (var subscription in connection.Subscriptions)
                    {
                        writer.WriteStartObject();
                        writer.WriteString("id", subscription.Id);
                        writer.WriteString("method", subscription.Method.FullName);
                        writer.WriteNumber("ageSeconds", Math.Round((now - subscription.Created).TotalSeconds, 1));
                        writer.WriteNumber("queueDepth", subscription.QueueDepth);
                        writer.WriteNumber("queueLimit", subscription.Method.Policy.QueueLimit);
                        writer.WriteNumber("delivered", subscription.Delivered);
                        writer.WriteNumber("dropped", subscription.DroppedTotal);
                        writer.WriteEndObject();
                    }

                    writer.WriteEndArray();
                    writer.WriteEndObject();
                }

                writer.WriteEndArray();
                writer.WriteEndObject();
            }

            context.Response.ContentType = "application/json; charset=utf-8";
            context.Response.Headers.CacheControl = "no-store";
            await context.Response.Body.WriteAsync(buffer.ToArray());
        }),

        endpoints.MapPost("/admin/connections/{id}:close", static async context =>
        {
            if (!await AuthorizeAsync(context))
            {
                return;
            }

            var id = (string)context.Request.RouteValues["id"]!;
            var connection = context.RequestServices.GetRequiredService<ConnectionRegistry>().Connections.FirstOrDefault(c => c.Id == id);
            if (connection is null)
            {
                await RpcStatusWriter.WriteAsync(context, StatusCode.NotFound, $"No connection '{id}'.");
                return;
            }

            connection.RequestClose(CloseCodes.ClosedByOperator, "Closed by an operator.");
            context.Response.StatusCode = StatusCodes.Status202Accepted;
        }),

        endpoints.MapGet("/admin/contracts", static async context =>
        {
            if (await AuthorizeAsync(context))
            {
                await WriteContractsAsync(context, outcome: null);
            }
        }),

        // Reloads now, without waiting for the file watcher (or with it switched off): 200 with the state in force and
        // whether it changed; a refused reload is FAILED_PRECONDITION (400) naming the problem, so that a deploy
        // script's curl -f fails.
        endpoints.MapPost("/admin/contracts:reload", static async context =>
        {
            if (await AuthorizeAsync(context))
            {
                var source = context.RequestServices.GetRequiredService<ContractSource>();
                if (source.Reload() is var outcome && outcome == ContractReload.Refused)
                {
                    await RpcStatusWriter.WriteAsync(context, StatusCode.FailedPrecondition,
                        $"The contracts did not load; generation {source.Generation} stays in force: {source.LastError}");
                    return;
                }

                await WriteContractsAsync(context, outcome);
            }
        }),
    ]);

    private static async Task WriteContractsAsync(HttpContext context, ContractReload? outcome)
    {
        var source = context.RequestServices.GetRequiredService<ContractSource>();
        var catalog = source.Current;
        using var buffer = new MemoryStream();
        await using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            if (outcome is { } reload)
            {
                writer.WriteString("outcome", reload.ToString().ToLowerInvariant());
            }

            writer.WriteNumber("generation", source.Generation);
            writer.WriteString("loadedAt", source.LoadedAt);
            writer.WriteNumber("methods", catalog.MethodCount);
            writer.WriteStartArray("streams");
            foreach (var method in catalog.Methods.OrderBy(m => m.FullName, StringComparer.Ordinal))
            {
                writer.WriteStringValue(method.FullName);
            }

            writer.WriteEndArray();
            if (source.LastError is { } error)
            {
                writer.WriteString("lastError", error);
            }
            else
            {
                writer.WriteNull("lastError");
            }

            writer.WriteEndObject();
        }

        context.Response.ContentType = "application/json; charset=utf-8";
        context.Response.Headers.CacheControl = "no-store";
        await context.Response.Body.WriteAsync(buffer.ToArray());
    }

    private static async Task<bool> AuthorizeAsync(HttpContext context)
    {
        SecurityHeaders.Apply(context);
        var key = context.RequestServices.GetRequiredService<IOptionsMonitor<EdgeBridgeOptions>>().CurrentValue.Admin.ApiKey;
        if (string.IsNullOrEmpty(key))
        {
            await RpcStatusWriter.WriteAsync(context, StatusCode.NotFound, "The admin view is disabled (EdgeBridge:Admin:ApiKey is not set).");
            return false;
        }

        var presented = context.Request.Headers[KeyHeader].ToString();
        if (presented.Length == 0)
        {
            await RpcStatusWriter.WriteAsync(context, StatusCode.Unauthenticated, $"The admin view needs the {KeyHeader} header.");
            return false;
        }

        if (!CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(presented)), SHA256.HashData(Encoding.UTF8.GetBytes(key))))
        {
            await RpcStatusWriter.WriteAsync(context, StatusCode.PermissionDenied, "The admin key is wrong.");
            return false;
        }

        return true;
    }
}
