using System.Buffers;
using System.Buffers.Text;
using System.Net;
using EdgeBridge.Contracts;
using EdgeBridge.Diagnostics;
using EdgeBridge.Http;
using EdgeBridge.Responses;
using EdgeBridge.Security;
using EdgeBridge.Streams;
using EdgeBridge.Upstream;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;

namespace EdgeBridge.Rpc;

/// <summary>
/// The Connect protocol and gRPC-Web at <c>/{package.Service}/{Method}</c> on Browser listeners, for every method the
/// contract exposes to browsers: clients people already use (connect-es, the grpc-web runtime) over HTTP/1.1, with
/// no EdgeBridge code. Each call becomes the upstream gRPC call — a unary call with the caller's token and deadline,
/// or a subscription through the socket's sinks (sharing, slow-consumer policy, caps) — and every refusal is in the
/// request's own protocol (<see cref="RpcErrors"/>).
/// </summary>
internal static partial class RpcEndpoint
{
    // Only names with a package (a dot) are methods: "/docs/x" and "/v1/symbols" stay with their own routes.
    private const string Pattern = "/{service:regex(^[A-Za-z_][A-Za-z0-9_]*(\\.[A-Za-z_][A-Za-z0-9_]*)+$)}/{method:regex(^[A-Za-z_][A-Za-z0-9_]*$)}";

    private const string LogCategory = "EdgeBridge.Rpc.RpcEndpoint";

    /// <summary>Marks the endpoint, so that refusals made before it runs (rate limits) speak its protocol too.</summary>
    internal sealed class Marker;

    private static readonly Marker s_marker = new();

    public static IEndpointConventionBuilder Map(IEndpointRouteBuilder endpoints)
    {
        var builder = endpoints.MapMethods(Pattern, [HttpMethods.Post, HttpMethods.Get], HandleAsync)
            .WithDisplayName("EdgeBridge Connect and gRPC-Web")
            .WithMetadata(s_marker)
            .RequireRateLimiting(EdgeBridgeDefaults.RestRateLimiterPolicy)
            .RequireCors(EdgeBridgeDefaults.RpcCorsPolicy);

        // After the proxy's routes (order 0): on a listener that serves browsers and gRPC alike, a gRPC call of the same
        // path is the gRPC route's, whose header match (content-type application/grpc) this route does not have.
        builder.Add(static endpoint => ((RouteEndpointBuilder)endpoint).Order = 1);
        return builder;
    }

    /// <summary>The protocol of a request routed here; null for any other request (its errors are REST's or gRPC's).</summary>
    public static RpcProtocol? ProtocolOf(HttpContext context) =>
        context.GetEndpoint()?.Metadata.GetMetadata<Marker>() is not null ? RpcProtocol.Of(context.Request) : null;

    /// <summary>The method's name as a metric tag: a name the client made up is not one, or the tags would grow without bound.</summary>
    private const string OtherMethod = "_OTHER";

    private static Task FailAsync(HttpContext context, RpcProtocol protocol, StatusCode code, string message, int? httpStatus = null, string method = OtherMethod)
    {
        Ended(context, protocol, method, code);
        RpcStatusWriter.LetTheServerDrainTheBody(context);
        return RpcErrors.WriteAsync(context, protocol, new Google.Rpc.Status { Code = (int)code, Message = message }, httpStatus);
    }

    private static void Ended(HttpContext context, RpcProtocol protocol, string method, StatusCode code) =>
        context.RequestServices.GetRequiredService<EdgeBridgeMetrics>().HttpCallEnded(protocol.MetricName, method, code);

    private static async Task HandleAsync(HttpContext context)
    {
        SecurityHeaders.Apply(context);
        var services = context.RequestServices;
        var options = services.GetRequiredService<IOptionsMonitor<EdgeBridgeOptions>>().CurrentValue.Rpc;
        var catalog = services.GetRequiredService<ContractSource>().Current;
        var detected = RpcProtocol.Of(context.Request);
        if (detected is null && context.Request.ContentType?.StartsWith("application/grpc", StringComparison.OrdinalIgnoreCase) == true)
        {
            // gRPC itself (HTTP/2, trailers) on a listener without a gRPC route: no route, as for any other path.
            await RpcStatusWriter.WriteAsync(context, StatusCode.NotFound, $"No route matches {context.Request.Method} {context.Request.Path}.");
            return;
        }

        if (detected is not { } protocol)
        {
            // Which protocol the client meant is unknown: the answer is Connect's, which is plain HTTP and JSON.
            context.Response.Headers["Accept-Post"] = "application/json, application/proto, application/connect+json, application/connect+proto, application/grpc-web+proto, application/grpc-web-text+proto";
            var what = HttpMethods.IsGet(context.Request.Method)
                ? "A GET needs the query parameters of Connect's GET: encoding=json|proto and message"
                : $"Content type '{context.Request.ContentType}' is not one of the Connect protocol (application/json, application/proto, application/connect+json, application/connect+proto) or gRPC-Web (application/grpc-web[+proto|+json], application/grpc-web-text)";
            await FailAsync(context, new RpcProtocol(RpcWire.Connect, Json: true), StatusCode.InvalidArgument,
                what + "; gRPC over HTTP/2 is served on the edge's gRPC listener.", StatusCodes.Status415UnsupportedMediaType);
            return;
        }

        if (!BrowserOrigins.IsAllowed(context, out var origin))
        {
            await FailAsync(context, protocol, StatusCode.PermissionDenied, $"Origin '{origin}' is not allowed.");
            return;
        }

        var name = $"{context.Request.RouteValues["service"]}/{context.Request.RouteValues["method"]}";
        if (!protocol.TryReadTimeout(context.Request, out var timeout))
        {
            await FailAsync(context, protocol, StatusCode.InvalidArgument, protocol.IsGrpcWeb
                ? $"grpc-timeout '{context.Request.Headers["grpc-timeout"]}' is not 1 to 8 digits and a unit (H, M, S, m, u, n)."
                : $"Connect-Timeout-Ms '{context.Request.Headers["Connect-Timeout-Ms"]}' is not 1 to 10 digits.");
            return;
        }

        if (protocol.Wire == RpcWire.Connect && context.Request.Headers["Connect-Protocol-Version"].ToString() is { Length: > 0 } version && version != "1")
        {
            await FailAsync(context, protocol, StatusCode.InvalidArgument, $"Connect-Protocol-Version '{version}' is not supported; this edge speaks version 1.");
            return;
        }

        if (catalog.TryGetBrowserCall(name, out var unary))
        {
            await CallAsync(context, protocol, unary, timeout, options, catalog);
        }
        else if (catalog.TryGet(name, out var stream))
        {
            await (stream.ClientSends
                ? FailAsync(context, protocol, StatusCode.Unimplemented,
                    $"'{name}' streams from the client too; over HTTP/1.1 it cannot, so it is served over the edge's WebSocket only.", method: stream.FullName)
                : SubscribeAsync(context, protocol, stream, timeout, options, catalog));
        }
        else
        {
            await FailAsync(context, protocol, StatusCode.Unimplemented, $"'{name}' is not a method this edge exposes to browsers.");
        }
    }

    private static async Task CallAsync(HttpContext context, RpcProtocol protocol, UnaryMethod method, TimeSpan? timeout, RpcOptions options, ContractCatalog catalog)
    {
        if (protocol.Wire == RpcWire.ConnectStream)
        {
            await FailAsync(context, protocol, StatusCode.InvalidArgument, $"'{method.FullName}' is unary: send it as application/json or application/proto, not a stream.", method: method.FullName);
            return;
        }

        var get = HttpMethods.IsGet(context.Request.Method);
        if (get && !method.NoSideEffects)
        {
            await FailAsync(context, protocol, StatusCode.InvalidArgument,
                $"'{method.FullName}' may change state, so it is called with POST; GET is for methods marked idempotency_level = NO_SIDE_EFFECTS.", method: method.FullName);
            return;
        }

        var (request, problem, code) = await ReadMessageAsync(context, protocol, method.Descriptor.InputType, options, catalog);
        if (request is null)
        {
            await FailAsync(context, protocol, code, problem!, method: method.FullName);
            return;
        }

        var services = context.RequestServices;
        var (caller, _, refusal) = await BearerCallers.AuthenticateAsync(context, context.Request.Headers.Authorization.ToString(), method.FullName,
            method.Contract.RequiresCaller, services.GetRequiredService<EdgeTokens>());
        if (refusal is not null)
        {
            context.Response.Headers.WWWAuthenticate = "Bearer";
            await FailAsync(context, protocol, StatusCode.Unauthenticated, refusal, method: method.FullName);
            return;
        }

        // A credential check is throttled here as on REST and gRPC: a throttled attempt never costs the backend a hash.
        var throttle = method.Contract.Principal is not null ? services.GetRequiredService<LoginThrottle>() : null;
        var principal = method.Contract.Principal is { } field ? MessageFields.Get(request, field) as string : null;
        if (throttle?.RetryAfterSeconds(caller.Address, principal) is { } seconds)
        {
            context.Response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
            await FailAsync(context, protocol, StatusCode.ResourceExhausted, $"Too many failed attempts; retry after {seconds} s.", method: method.FullName);
            return;
        }

        var time = services.GetRequiredService<TimeProvider>();
        var allowed = timeout is { } asked ? (asked < options.MaxTimeout ? asked : options.MaxTimeout) : options.DefaultTimeout;
        var (response, error) = await services.GetRequiredService<UpstreamCalls>().CallAsync(method.GrpcMethod, request, caller.Token,
            time.GetUtcNow().UtcDateTime + allowed, context.RequestAborted);
        throttle?.Record(caller.Address, principal, (StatusCode)(error?.Code ?? 0));

        if (error is not null)
        {
            if (error.Code is (int)StatusCode.Unavailable or (int)StatusCode.Internal or (int)StatusCode.Unknown or (int)StatusCode.DataLoss)
            {
                Log.UpstreamFailed(services.GetRequiredService<ILoggerFactory>().CreateLogger(LogCategory), method.FullName, (StatusCode)error.Code);
            }

            Ended(context, protocol, method.FullName, (StatusCode)error.Code);
            await RpcErrors.WriteAsync(context, protocol, error);
            return;
        }

        Ended(context, protocol, method.FullName, StatusCode.OK);

        // One answer, one client: the formatter's own JSON goes as it is (FormatUtf8's compact re-write pays only when
        // many subscribers share the bytes).
        var bytes = protocol.Json ? System.Text.Encoding.UTF8.GetBytes(catalog.Json.Format(response!)) : response!.ToByteArray();
        await WriteResponseAsync(context, protocol, bytes, get, caller.Token is not null);
    }

    private static async Task WriteResponseAsync(HttpContext context, RpcProtocol protocol, byte[] message, bool get, bool personal)
    {
        var response = context.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = protocol.ContentType;
        if (protocol.Wire == RpcWire.Connect)
        {
            if (get)
            {
                // A GET is a read anyone may repeat: revalidated with its ETag each time, private when it is the caller's.
                response.Headers.Vary = "Authorization";
                if (EntityTags.Revalidate(context, message, personal ? "private, no-cache" : "no-cache"))
                {
                    return;
                }
            }

            response.ContentLength = message.Length;
            await response.Body.WriteAsync(message, context.RequestAborted);
            return;
        }

        // gRPC-Web: the message, then the trailers frame.
        var format = RpcStreamFormat.For(protocol);
        var writer = response.BodyWriter;
        format.Next(writer, message, 0, null);
        format.End(writer, new Google.Rpc.Status(), null!);
        await writer.FlushAsync(context.RequestAborted);
    }

    private static async Task SubscribeAsync(HttpContext context, RpcProtocol protocol, StreamingMethod method, TimeSpan? timeout, RpcOptions options, ContractCatalog catalog)
    {
        if (protocol.Wire == RpcWire.Connect)
        {
            await FailAsync(context, protocol, StatusCode.InvalidArgument,
                $"'{method.FullName}' is a server stream: send it as application/connect+json or application/connect+proto.", method: method.FullName);
            return;
        }

        var (request, problem, code) = await ReadMessageAsync(context, protocol, method.Descriptor.InputType, options, catalog);
        if (request is null)
        {
            await FailAsync(context, protocol, code, problem!, method: method.FullName);
            return;
        }

        var (caller, expires, refusal) = await BearerCallers.AuthenticateAsync(context, context.Request.Headers.Authorization.ToString(), method.FullName,
            method.Policy.RequiresToken, context.RequestServices.GetRequiredService<EdgeTokens>());
        if (refusal is not null)
        {
            context.Response.Headers.WWWAuthenticate = "Bearer";
            await FailAsync(context, protocol, StatusCode.Unauthenticated, refusal, method: method.FullName);
            return;
        }

        await HttpStreamEndpoint.ServeAsync(context, method, request, caller, expires, RpcStreamFormat.For(protocol),
            protocol.Json ? MessageEncoding.Json : MessageEncoding.Proto, timeout, protocol.MetricName);
    }

    /// <summary>
    /// The request message: Connect unary's body (or GET's <c>message</c> parameter), or the one envelope of a
    /// streaming or gRPC-Web body; null with a problem and its code when it is too large or does not fit the type.
    /// </summary>
    private static async Task<(IMessage? Request, string? Problem, StatusCode Code)> ReadMessageAsync(HttpContext context, RpcProtocol protocol,
        MessageDescriptor type, RpcOptions options, ContractCatalog catalog)
    {
        ReadOnlyMemory<byte> bytes;
        if (HttpMethods.IsGet(context.Request.Method))
        {
            var query = context.Request.Query;
            var text = query["message"].ToString();
            if (text.Length > options.MaxRequestBytes * 2)
            {
                return (null, $"The request is larger than {options.MaxRequestBytes} bytes.", StatusCode.ResourceExhausted);
            }

            if (query["compression"].ToString() is { Length: > 0 } compression && compression != "identity")
            {
                return (null, $"Compression '{compression}' is not supported; send the message uncompressed.", StatusCode.Unimplemented);
            }

            if (query["base64"] == "1")
            {
                try
                {
                    // Connect sends it unpadded; Base64Url takes both.
                    bytes = Base64Url.DecodeFromChars(text);
                }
                catch (FormatException)
                {
                    return (null, "The message parameter is not base64url (base64=1).", StatusCode.InvalidArgument);
                }
            }
            else
            {
                bytes = System.Text.Encoding.UTF8.GetBytes(text);
            }
        }
        else
        {
            if (context.Request.Headers["Content-Encoding"].ToString() is { Length: > 0 } encoding && encoding != "identity"
                || context.Request.Headers["Connect-Content-Encoding"].ToString() is { Length: > 0 } streamEncoding && streamEncoding != "identity")
            {
                return (null, "Compressed requests are not supported; send the message uncompressed (identity).", StatusCode.Unimplemented);
            }

            var body = await ReadBodyAsync(context, protocol.Wire == RpcWire.GrpcWebText ? options.MaxRequestBytes * 4 / 3 + 4 : options.MaxRequestBytes + Envelope.HeaderLength);
            if (body is null)
            {
                return (null, $"The request is larger than {options.MaxRequestBytes} bytes.", StatusCode.ResourceExhausted);
            }

            bytes = body;
            if (protocol.Wire == RpcWire.GrpcWebText)
            {
                var decoded = new byte[Base64.GetMaxDecodedFromUtf8Length(body.Length)];
                if (Base64.DecodeFromUtf8(body, decoded, out _, out var written) != OperationStatus.Done)
                {
                    return (null, "The body of a grpc-web-text request is not base64.", StatusCode.InvalidArgument);
                }

                bytes = decoded.AsMemory(0, written);
            }

            if (protocol.Wire != RpcWire.Connect)
            {
                if (!Envelope.TryReadSingle(bytes, out bytes, out var problem))
                {
                    return (null, "The request is not one enveloped message: " + problem + ".", problem!.StartsWith("compressed", StringComparison.Ordinal) ? StatusCode.Unimplemented : StatusCode.InvalidArgument);
                }
            }
        }

        try
        {
            var message = protocol.Json
                ? catalog.Json.Parse(bytes.Length == 0 ? "{}" : System.Text.Encoding.UTF8.GetString(bytes.Span), type)
                : catalog.Json.ParseBinary(type, bytes.Span);
            return (message, null, StatusCode.OK);
        }
        catch (Exception ex) when (ex is InvalidJsonException or InvalidProtocolBufferException or FormatException or InvalidOperationException or ArgumentException)
        {
            return (null, $"The request does not fit {type.FullName}: {ex.Message}", StatusCode.InvalidArgument);
        }
    }

    /// <summary>The whole body, up to <paramref name="limit"/> bytes; null when it is longer.</summary>
    private static async Task<byte[]?> ReadBodyAsync(HttpContext context, int limit)
    {
        var request = context.Request;
        if (request.ContentLength > limit)
        {
            return null;
        }

        var buffer = new ArrayBufferWriter<byte>((int)Math.Min(request.ContentLength ?? 256, limit) + 1);
        try
        {
            while (true)
            {
                var read = await request.Body.ReadAsync(buffer.GetMemory(Math.Min(4096, limit + 1 - buffer.WrittenCount)), context.RequestAborted);
                if (read == 0)
                {
                    return buffer.WrittenSpan.ToArray();
                }

                buffer.Advance(read);
                if (buffer.WrittenCount > limit)
                {
                    return null;
                }
            }
        }
        catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return null;
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1, EventName = "RpcUpstreamFailed", Level = LogLevel.Warning, Message = "A call of {Method} failed upstream with {Status}.")]
        public static partial void UpstreamFailed(ILogger logger, string method, StatusCode status);
    }
}
