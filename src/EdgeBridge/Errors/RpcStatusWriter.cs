using System.Text.Json;
using EdgeBridge.Listeners;
using Grpc.Core;
using Microsoft.AspNetCore.Http;

namespace EdgeBridge.Errors;

/// <summary>
/// Writes errors the edge itself produces in the protocol of the request: a google.rpc.Status JSON body for
/// REST (the shape JSON transcoding uses for backend errors), a trailers-only response for gRPC.
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
        var response = context.Response;
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
