using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;
using EdgeBridge.Responses;
using Google.Protobuf;
using Grpc.Core;
using Microsoft.AspNetCore.Http;

namespace EdgeBridge.Rpc;

/// <summary>
/// A google.rpc.Status in each protocol's own terms: Connect's error JSON (as the body of a unary answer, or inside
/// the end-of-stream message) and gRPC-Web's status (headers of a trailers-only answer, or the trailers frame).
/// </summary>
internal static class RpcErrors
{
    // Messages are read by people: quotes and angle brackets stay as they are (the body is JSON, never HTML).
    private static readonly JsonWriterOptions s_relaxed = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>Connect's name of a gRPC code (connectrpc.com/docs/protocol, "Error Codes").</summary>
    public static string ConnectCode(int code) => (StatusCode)code switch
    {
        StatusCode.Cancelled => "canceled",
        StatusCode.InvalidArgument => "invalid_argument",
        StatusCode.DeadlineExceeded => "deadline_exceeded",
        StatusCode.NotFound => "not_found",
        StatusCode.AlreadyExists => "already_exists",
        StatusCode.PermissionDenied => "permission_denied",
        StatusCode.ResourceExhausted => "resource_exhausted",
        StatusCode.FailedPrecondition => "failed_precondition",
        StatusCode.Aborted => "aborted",
        StatusCode.OutOfRange => "out_of_range",
        StatusCode.Unimplemented => "unimplemented",
        StatusCode.Internal => "internal",
        StatusCode.Unavailable => "unavailable",
        StatusCode.DataLoss => "data_loss",
        StatusCode.Unauthenticated => "unauthenticated",
        _ => "unknown",
    };

    /// <summary>
    /// Connect's error object: <c>{"code":"not_found","message":"…","details":[{"type":"google.rpc.ErrorInfo","value":"…"}]}</c>,
    /// each detail's value its protobuf bytes in unpadded base64.
    /// </summary>
    public static void WriteConnectError(Utf8JsonWriter json, Google.Rpc.Status status)
    {
        json.WriteStartObject();
        json.WriteString("code"u8, ConnectCode(status.Code));
        if (status.Message.Length > 0)
        {
            json.WriteString("message"u8, status.Message);
        }

        if (status.Details.Count > 0)
        {
            json.WriteStartArray("details"u8);
            foreach (var detail in status.Details)
            {
                json.WriteStartObject();
                json.WriteString("type"u8, detail.TypeUrl[(detail.TypeUrl.LastIndexOf('/') + 1)..]);
                json.WriteString("value"u8, Convert.ToBase64String(detail.Value.Span).TrimEnd('='));
                json.WriteEndObject();
            }

            json.WriteEndArray();
        }

        json.WriteEndObject();
    }

    /// <summary>Connect's end-of-stream message: <c>{}</c> for OK, else <c>{"error":{…}}</c>.</summary>
    public static byte[] ConnectEndOfStream(Google.Rpc.Status status)
    {
        var buffer = new ArrayBufferWriter<byte>(128);
        using (var json = new Utf8JsonWriter(buffer, s_relaxed))
        {
            json.WriteStartObject();
            if (status.Code != 0)
            {
                json.WritePropertyName("error"u8);
                WriteConnectError(json, status);
            }

            json.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>gRPC-Web's trailers frame body: <c>grpc-status</c>, <c>grpc-message</c> and the details, as HTTP/1.1 header lines.</summary>
    public static byte[] GrpcWebTrailers(Google.Rpc.Status status)
    {
        var text = new StringBuilder(64);
        text.Append("grpc-status:").Append(status.Code.ToString(CultureInfo.InvariantCulture)).Append("\r\n");
        if (status.Message.Length > 0)
        {
            text.Append("grpc-message:").Append(Uri.EscapeDataString(status.Message)).Append("\r\n");
        }

        if (status.Details.Count > 0)
        {
            text.Append("grpc-status-details-bin:").Append(Convert.ToBase64String(status.ToByteArray()).TrimEnd('=')).Append("\r\n");
        }

        return Encoding.ASCII.GetBytes(text.ToString());
    }

    /// <summary>
    /// Answers the request with <paramref name="status"/> alone, before any message: Connect unary as an HTTP error
    /// with the error JSON, Connect streaming as a 200 whose only message is the end of the stream, gRPC-Web as a
    /// trailers-only 200. For Connect unary, <paramref name="httpStatus"/> replaces the code's HTTP status (415 for a
    /// content type no protocol has).
    /// </summary>
    public static Task WriteAsync(HttpContext context, RpcProtocol protocol, Google.Rpc.Status status, int? httpStatus = null)
    {
        var response = context.Response;
        response.Headers.CacheControl = "no-store";
        switch (protocol.Wire)
        {
            case RpcWire.Connect:
            {
                response.StatusCode = httpStatus ?? RpcStatusWriter.ToHttpStatus((StatusCode)status.Code);
                response.ContentType = "application/json";
                var buffer = new ArrayBufferWriter<byte>(128);
                using (var json = new Utf8JsonWriter(buffer, s_relaxed))
                {
                    WriteConnectError(json, status);
                }

                return response.Body.WriteAsync(buffer.WrittenMemory).AsTask();
            }

            case RpcWire.ConnectStream:
                // The end of a stream that never began: the stream's own framing writes it.
                response.StatusCode = StatusCodes.Status200OK;
                response.ContentType = protocol.ContentType;
                RpcStreamFormat.For(protocol).End(response.BodyWriter, status, null!);
                return response.BodyWriter.FlushAsync().AsTask();

            default:
                // Trailers-only: the status rides in the headers of a 200 with no body.
                response.StatusCode = StatusCodes.Status200OK;
                response.ContentType = protocol.ContentType;
                response.Headers["grpc-status"] = status.Code.ToString(CultureInfo.InvariantCulture);
                response.Headers["grpc-message"] = Uri.EscapeDataString(status.Message);
                if (status.Details.Count > 0)
                {
                    response.Headers["grpc-status-details-bin"] = Convert.ToBase64String(status.ToByteArray()).TrimEnd('=');
                }

                return Task.CompletedTask;
        }
    }
}
