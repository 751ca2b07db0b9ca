using System.Text.Json;
using EdgeBridge.Listeners;
using Grpc.Core;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace EdgeBridge.Responses;

/// <summary>
/// Writes errors the edge itself produces in the protocol of the request: a google.rpc.Status JSON body for
/// REST (the shape JSON transcoding uses for backend errors), a trailers-only response for gRPC, Connect's error
/// JSON or gRPC-Web's status for those protocols.
/// </summary>
internal static class RpcStatusWriter
{
    /// <summary>
    /// Whether the request is a gRPC call, to be answered in gRPC terms: a gRPC content type on a listener that
    /// serves gRPC. On any other listener the answer is REST's, whatever the client claims to speak.
    /// </summary>
    public static bool IsGrpc(HttpContext context) =>
        (EdgeListenerFeature.RolesOf(context) & EdgeListenerRoles.Grpc) != 0 && HasGrpcContentType(context.Request);

    private static bool HasGrpcContentType(HttpRequest request) =>
        request.ContentType is { } type && type.StartsWith("application/grpc", StringComparison.OrdinalIgnoreCase);

    public static Task WriteAsync(HttpContext context, StatusCode code, string message, int? httpStatus = null)
    {
        LetTheServerDrainTheBody(context);
        SecurityHeaders.ApplyOnce(context);
        var response = context.Response;
        if (Rpc.RpcEndpoint.ProtocolOf(context) is { } rpc)
        {
            // A Connect or gRPC-Web call refused before it ran (rate limits): in its own protocol.
            return Rpc.RpcErrors.WriteAsync(context, rpc, new Google.Rpc.Status { Code = (int)code, Message = message });
        }

        if (IsGrpc(context))
        {
            // Trailers-only: the status rides in the headers of a 200 response with no body.
            response.StatusCode = StatusCodes.Status200OK;
            response.ContentType = "application/grpc";
            response.Headers["grpc-status"] = ((int)code).ToString(System.Globalization.CultureInfo.InvariantCulture);
            response.Headers["grpc-message"] = Uri.EscapeDataString(message);
            return Task.CompletedTask;
        }

        response.StatusCode = httpStatus ?? ToHttpStatus(code);
        response.ContentType = "application/json; charset=utf-8";
        response.Headers.CacheControl = "no-store";
        return response.WriteAsync(JsonSerializer.Serialize(new StatusBody((int)code, message, []), StatusJsonContext.Default.StatusBody));
    }

    /// <summary>
    /// An answer given before the request's body was read: an HTTP/1.1 client may still be sending it, and reads the
    /// answer only once it has. The server drains the body after the response — but not beyond the request's limit,
    /// which a route may have lowered below the server's; it would then close the connection under the client,
    /// which sees a broken pipe instead of the answer. So the limit goes back to the server's own for the drain.
    /// </summary>
    public static void LetTheServerDrainTheBody(HttpContext context)
    {
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } size
            && context.RequestServices.GetService<IOptions<KestrelServerOptions>>()?.Value.Limits.MaxRequestBodySize is { } server
            && (size.MaxRequestBodySize is null || size.MaxRequestBodySize < server))
        {
            size.MaxRequestBodySize = server;
        }
    }

    /// <summary>The HTTP status JSON transcoding uses for a gRPC status (google/rpc/code.proto).</summary>
    public static int ToHttpStatus(StatusCode code) => code switch
    {
        StatusCode.OK => 200,
        StatusCode.Cancelled => 499,
        StatusCode.InvalidArgument or StatusCode.FailedPrecondition or StatusCode.OutOfRange => 400,
        StatusCode.DeadlineExceeded => 504,
        StatusCode.NotFound => 404,
        StatusCode.AlreadyExists or StatusCode.Aborted => 409,
        StatusCode.PermissionDenied => 403,
        StatusCode.Unauthenticated => 401,
        StatusCode.ResourceExhausted => 429,
        StatusCode.Unimplemented => 501,
        StatusCode.Unavailable => 503,
        _ => 500,
    };
}

internal sealed record StatusBody(int Code, string Message, object[] Details);

[System.Text.Json.Serialization.JsonSourceGenerationOptions(PropertyNamingPolicy = System.Text.Json.Serialization.JsonKnownNamingPolicy.CamelCase)]
[System.Text.Json.Serialization.JsonSerializable(typeof(StatusBody))]
internal sealed partial class StatusJsonContext : System.Text.Json.Serialization.JsonSerializerContext;
