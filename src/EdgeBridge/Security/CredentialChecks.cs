using System.Buffers;
using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using System.Text.Json;
using EdgeBridge.Contracts;
using EdgeBridge.Responses;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using Grpc.Core;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace EdgeBridge.Security;

/// <summary>
/// Throttles calls to the contract's credential checks (<c>edgebridge.v1.credentials</c>: logins) on REST and gRPC
/// alike: the user name is read from the request (JSON body, path or protobuf message), a throttled attempt is
/// answered 429 + <c>Retry-After</c> / RESOURCE_EXHAUSTED without reaching the backend (which would spend a
/// password hash on it), and the outcome of every other attempt is charged to <see cref="LoginThrottle"/>.
/// </summary>
internal static partial class CredentialChecks
{
    /// <summary>Credential checks are small; a larger request is refused rather than buffered.</summary>
    public const int MaxRequestBytes = 64 * 1024;

    private const string LogCategory = "EdgeBridge.Security.CredentialChecks";

    // Most calls check no credentials: they pass without an async step of their own.
    public static Task InvokeAsync(HttpContext context, RequestDelegate next) =>
        ContractCalls.Find(context, context.RequestServices.GetRequiredService<ContractSource>().Current) is { Principal: { } field } method
            ? ThrottleAsync(context, next, method, field)
            : next(context);

    private static async Task ThrottleAsync(HttpContext context, RequestDelegate next, ContractMethod method, FieldDescriptor field)
    {
        var services = context.RequestServices;
        var catalog = services.GetRequiredService<ContractSource>().Current;
        var grpc = RpcStatusWriter.IsGrpc(context);
        var body = await BufferAsync(context, drainExcess: !grpc);
        if (body is null)
        {
            await RpcStatusWriter.WriteAsync(context, StatusCode.ResourceExhausted,
                $"A request to {method.Descriptor.FullName} is limited to {MaxRequestBytes} bytes.", StatusCodes.Status413PayloadTooLarge);
            return;
        }

        var principal = grpc ? FromGrpc(body, method, field, catalog.Json) : FromRest(context, body, catalog, field);
        var throttle = services.GetRequiredService<LoginThrottle>();
        var address = context.Connection.RemoteIpAddress ?? IPAddress.None;
        if (throttle.RetryAfterSeconds(address, principal) is { } seconds)
        {
            var logger = services.GetRequiredService<ILoggerFactory>().CreateLogger(LogCategory);
            Log.Throttled(logger, method.GrpcPath, address, seconds);
            context.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
            await RpcStatusWriter.WriteAsync(context, StatusCode.ResourceExhausted,
                $"Too many failed attempts; retry after {seconds} s.", StatusCodes.Status429TooManyRequests);
            return;
        }

        await next(context);
        if (Outcome(context, grpc) is { } outcome)
        {
            throttle.Record(address, principal, outcome);
        }
    }

    /// <summary>
    /// Reads the whole (small) body and puts it back for forwarding; null when it is too large. With
    /// <paramref name="drainExcess"/> (HTTP/1.1), the rest of a body that is too large is read and dropped first, up to
    /// the server's limit: a client still sending would otherwise meet a closed connection instead of the answer.
    /// </summary>
    private static async Task<byte[]?> BufferAsync(HttpContext context, bool drainExcess)
    {
        var request = context.Request;
        if (request.ContentLength > MaxRequestBytes)
        {
            // Unread: the answer leaves the drain to the server (RpcStatusWriter).
            return null;
        }

        if (drainExcess)
        {
            // This limit is stricter than the route's; the route's would cut the drain short (and the connection
            // under the client), so the server's own bounds what may be read and dropped.
            RpcStatusWriter.LetTheServerDrainTheBody(context);
        }

        var buffer = ArrayPool<byte>.Shared.Rent(MaxRequestBytes + 1);
        try
        {
            var length = 0;
            int read;
            while ((read = await request.Body.ReadAsync(buffer.AsMemory(length, MaxRequestBytes + 1 - length), context.RequestAborted)) > 0)
            {
                length += read;
                if (length > MaxRequestBytes)
                {
                    while (drainExcess && await request.Body.ReadAsync(buffer, context.RequestAborted) > 0)
                    {
                    }

                    return null;
                }
            }

            var body = buffer.AsSpan(0, length).ToArray();
            request.Body = new MemoryStream(body, writable: false);
            return body;
        }
        catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            // Kestrel reads ahead: a body over the route's own limit can fail the very first read.
            return null;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static string? FromRest(HttpContext context, byte[] body, ContractCatalog catalog, FieldDescriptor field)
    {
        var binding = ContractCalls.Binding(context, catalog);
        if (binding is not null && binding.Match(context.Request.Path.Value, field.Name, out var fromPath) && fromPath is not null)
        {
            return Uri.UnescapeDataString(fromPath);
        }

        if (binding?.Body != "*" || body.Length == 0)
        {
            return null;
        }

        // Only the top-level property is of interest; proto3 JSON accepts both the JSON and the proto name.
        try
        {
            var reader = new Utf8JsonReader(body);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return null;
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var matches = reader.ValueTextEquals(field.JsonName) || reader.ValueTextEquals(field.Name);
                reader.Read();
                if (matches && reader.TokenType == JsonTokenType.String)
                {
                    return reader.GetString();
                }

                reader.Skip();
            }
        }
        catch (JsonException)
        {
            // Malformed JSON: the backend answers it; the attempt counts against the address only.
        }

        return null;
    }

    private static string? FromGrpc(byte[] body, ContractMethod method, FieldDescriptor field, ProtoJson json)
    {
        // One length-prefixed message: compressed flag, big-endian length, then the message.
        if (body.Length < 5 || body[0] != 0 || BinaryPrimitives.ReadUInt32BigEndian(body.AsSpan(1)) != body.Length - 5)
        {
            return null;
        }

        try
        {
            var message = json.ParseBinary(method.Descriptor.InputType, body.AsSpan(5));
            return MessageFields.Get(message, field) as string;
        }
        catch (Exception ex) when (ex is InvalidProtocolBufferException or FormatException)
        {
            return null;
        }
    }

    /// <summary>How the forwarded call ended: the gRPC status, or the one a REST status stands for.</summary>
    private static StatusCode? Outcome(HttpContext context, bool grpc)
    {
        var response = context.Response;
        if (!grpc)
        {
            return response.StatusCode switch
            {
                StatusCodes.Status401Unauthorized => StatusCode.Unauthenticated,
                >= 200 and < 300 => StatusCode.OK,
                _ => null,
            };
        }

        var status = context.Features.Get<IHttpResponseTrailersFeature>()?.Trailers["grpc-status"] is { Count: > 0 } trailer
            ? trailer.ToString()
            : response.Headers["grpc-status"].ToString();
        return int.TryParse(status, NumberStyles.None, CultureInfo.InvariantCulture, out var code) ? (StatusCode)code : null;
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1, EventName = "CredentialCheckThrottled", Level = LogLevel.Information,
            Message = "Refused a call to {Method} from {Address}: too many failed attempts; retry after {RetryAfter} s.")]
        public static partial void Throttled(ILogger logger, string method, IPAddress address, int retryAfter);
    }
}
