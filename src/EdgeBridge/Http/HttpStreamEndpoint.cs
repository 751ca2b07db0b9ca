using EdgeBridge.Contracts;
using EdgeBridge.Diagnostics;
using EdgeBridge.Responses;
using EdgeBridge.Security;
using EdgeBridge.Streams;
using EdgeBridge.WebSockets;
using Google.Protobuf;
using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace EdgeBridge.Http;

/// <summary>
/// Every exposed server stream over plain HTTP, for clients behind proxies that block WebSockets and for
/// <c>EventSource</c>: <c>POST {path}/{package.Service}/{Method}</c> with the proto3 JSON request as the body, or
/// <c>GET</c> with it in <c>?request=</c>. <c>Accept</c> chooses server-sent events or NDJSON; <c>Last-Event-ID</c>
/// resumes from a cursor. The subscription is the socket's — the same sink, sharing, slow-consumer policy, caps —
/// only its framing is HTTP's.
/// </summary>
internal static partial class HttpStreamEndpoint
{
    public static IEndpointConventionBuilder Map(IEndpointRouteBuilder endpoints)
    {
        var path = endpoints.ServiceProvider.GetRequiredService<IOptions<EdgeBridgeOptions>>().Value.Streams.Path;
        var group = endpoints.MapGroup(path);
        group.MapMethods("/{service}/{method}", [HttpMethods.Get, HttpMethods.Post], HandleAsync).WithDisplayName("EdgeBridge HTTP stream");
        group.MapPost("/tickets", IssueTicketAsync).WithDisplayName("EdgeBridge stream ticket").RequireRateLimiting(EdgeBridgeDefaults.RestRateLimiterPolicy);
        return group;
    }

    /// <summary>A stream ticket for the caller of the <c>Authorization</c> header: what an <c>EventSource</c> URL carries instead of the token.</summary>
    private static async Task IssueTicketAsync(HttpContext context)
    {
        var services = context.RequestServices;
        SecurityHeaders.Apply(context);
        if (!BrowserOrigins.IsAllowed(context, out var origin))
        {
            await BrowserOrigins.RefuseAsync(context, origin!);
            return;
        }

        var tickets = services.GetRequiredService<StreamTickets>();
        if (!tickets.Enabled)
        {
            await RpcStatusWriter.WriteAsync(context, StatusCode.NotFound, "This edge checks no tokens, so streams need no tickets.");
            return;
        }

        var header = context.Request.Headers.Authorization.ToString();
        var check = header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase)
            ? await services.GetRequiredService<EdgeTokens>().ValidateAsync(header["Bearer ".Length..].Trim())
            : TokenCheck.Rejected("a ticket is issued for 'Authorization: Bearer <token>'");
        if (!check.Valid)
        {
            context.Response.Headers.WWWAuthenticate = "Bearer";
            await RpcStatusWriter.WriteAsync(context, StatusCode.Unauthenticated, $"No ticket: {check.Problem}.");
            return;
        }

        var (ticket, expires) = tickets.Issue(header["Bearer ".Length..].Trim());
        context.Response.Headers.CacheControl = "no-store";
        await context.Response.WriteAsJsonAsync(new TicketBody(ticket, expires.ToString("O", System.Globalization.CultureInfo.InvariantCulture)), TicketJsonContext.Default.TicketBody);
    }

    private static async Task HandleAsync(HttpContext context)
    {
        var services = context.RequestServices;
        var options = services.GetRequiredService<IOptionsMonitor<EdgeBridgeOptions>>().CurrentValue;
        var catalog = services.GetRequiredService<ContractSource>().Current;
        SecurityHeaders.Apply(context);

        if (!BrowserOrigins.IsAllowed(context, out var origin))
        {
            await BrowserOrigins.RefuseAsync(context, origin!);
            return;
        }

        var name = $"{context.Request.RouteValues["service"]}/{context.Request.RouteValues["method"]}";
        if (!catalog.TryGet(name, out var method))
        {
            await RpcStatusWriter.WriteAsync(context, StatusCode.NotFound, $"Method '{name}' is not available as a stream.");
            return;
        }

        if (method.ClientSends)
        {
            // An HTTP response cannot carry the client's messages while it streams: only the socket is full-duplex.
            await RpcStatusWriter.WriteAsync(context, StatusCode.NotFound,
                $"'{name}' streams from the client too and is served over the WebSocket only (send and end frames).");
            return;
        }

        if (StreamFormat.Negotiate(context.Request.Headers.Accept) is not { } format)
        {
            await RpcStatusWriter.WriteAsync(context, StatusCode.InvalidArgument,
                "This endpoint answers text/event-stream or application/x-ndjson; the Accept header allows neither.", StatusCodes.Status406NotAcceptable);
            return;
        }

        var (request, problem, status) = await ReadRequestAsync(context, method, options.Streams, catalog.Json);
        if (request is null)
        {
            await RpcStatusWriter.WriteAsync(context, StatusCode.InvalidArgument, problem!, status);
            return;
        }

        var (caller, expires, refusal) = await AuthenticateAsync(context, method, services.GetRequiredService<EdgeTokens>());
        if (refusal is not null)
        {
            context.Response.Headers.WWWAuthenticate = "Bearer";
            await RpcStatusWriter.WriteAsync(context, StatusCode.Unauthenticated, refusal);
            return;
        }

        await ServeAsync(context, method, request, caller, expires, format, MessageEncoding.Json, deadline: null, transport: "http");
    }

    /// <summary>
    /// Serves one subscription of <paramref name="method"/> as this response, in <paramref name="format"/>: admitted and
    /// counted like a socket, through the socket's sink, sharing, slow-consumer policy and upstream caps; ended by the
    /// token's expiry, the edge's drain, and <paramref name="deadline"/> when the client set one.
    /// </summary>
    internal static async Task ServeAsync(HttpContext context, StreamingMethod method, IMessage request, Caller caller, DateTimeOffset? expires,
        StreamFormat format, MessageEncoding encoding, TimeSpan? deadline, string transport)
    {
        var services = context.RequestServices;
        var options = services.GetRequiredService<IOptionsMonitor<EdgeBridgeOptions>>().CurrentValue;
        var registry = services.GetRequiredService<ConnectionRegistry>();
        var address = caller.Address;
        if (!await ConnectionGate.TryEnterAsync(context, address, options.WebSockets, static _ => { }))
        {
            return;
        }

        try
        {
            await StreamAsync(context, method, request, caller, expires, format, encoding, deadline, transport, options.Streams,
                services.GetRequiredService<ContractSource>().Current.Json, registry.Draining);
        }
        finally
        {
            registry.Release(address);
        }
    }

    private static async Task StreamAsync(HttpContext context, StreamingMethod method, IMessage request, Caller caller, DateTimeOffset? expires, StreamFormat format,
        MessageEncoding encoding, TimeSpan? deadline, string transport, HttpStreamOptions options, ProtoJson json, CancellationToken draining)
    {
        var services = context.RequestServices;
        var time = services.GetRequiredService<TimeProvider>();
        var sink = new HttpStreamSink(method, time.GetUtcNow(), encoding)
        {
            UsesToken = caller.Token is not null && method.Policy.ForwardsToken,
            Activity = EdgeBridgeActivities.StartSubscription(method, context.TraceIdentifier, transport, System.Diagnostics.Activity.Current?.Context ?? default),
        };
        var metrics = services.GetRequiredService<EdgeBridgeMetrics>();
        if (services.GetRequiredService<UpstreamStreams>().Subscribe(sink, request, caller) is { } refused)
        {
            sink.Cancel((StatusCode)refused.Code);
            metrics.HttpCallEnded(transport, method.FullName, (StatusCode)refused.Code);
            await RpcStatusWriter.WriteAsync(context, (StatusCode)refused.Code, refused.Message);
            return;
        }

        metrics.HttpStreamOpened();
        var ended = StatusCode.Cancelled;
        var response = context.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = format.ContentType;
        response.Headers.CacheControl = "no-cache, no-store";
        // Proxies that buffer (nginx) would hold events back.
        response.Headers["X-Accel-Buffering"] = "no";
        context.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, draining);
        using var expiry = sink.UsesToken && expires is { } at
            ? time.CreateTimer(static state => ((StreamSink)state!).End(StatusCode.Unauthenticated, "The access token expired; reconnect with a fresh one and resume."),
                sink, at - time.GetUtcNow() is var left && left > TimeSpan.Zero ? left : TimeSpan.Zero, Timeout.InfiniteTimeSpan)
            : null;
        using var timeout = deadline is { } after
            ? time.CreateTimer(static state => ((StreamSink)state!).End(StatusCode.DeadlineExceeded, "The stream reached the deadline the client set."),
                sink, after, Timeout.InfiniteTimeSpan)
            : null;
        var writer = response.BodyWriter;
        try
        {
            // The headers go now: the client knows the stream is open before the first message.
            await writer.FlushAsync(stop.Token);
            while (true)
            {
                while (sink.TryTake(out var item))
                {
                    if (item.Terminal is { } status)
                    {
                        ended = (StatusCode)status.Code;
                        format.End(writer, status, json);
                        await writer.FlushAsync(stop.Token);
                        return;
                    }

                    format.Next(writer, item.Message, item.Dropped, method.Cursor?.PositionOf(item.Message));
                    metrics.Delivered(item.Message!.Length);
                }

                sink.Drained();
                await writer.FlushAsync(stop.Token);
                if (!await sink.WaitAsync(options.HeartbeatInterval, stop.Token))
                {
                    format.Heartbeat(writer);
                }
            }
        }
        catch (OperationCanceledException) when (draining.IsCancellationRequested && !context.RequestAborted.IsCancellationRequested)
        {
            // The edge drains: the client reconnects (through the balancer, elsewhere) and resumes from its cursor.
            sink.Cancel(StatusCode.Unavailable);
            ended = StatusCode.Unavailable;
            format.End(writer, new Google.Rpc.Status { Code = (int)StatusCode.Unavailable, Message = "This edge is draining; reconnect and resume." }, json);
            await writer.FlushAsync(CancellationToken.None);
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException)
        {
            // The client left: its upstream call ends with it.
        }
        finally
        {
            sink.Cancel();
            metrics.HttpStreamClosed();
            metrics.HttpCallEnded(transport, method.FullName, ended);
        }
    }

    /// <summary>The request: the POST body or the GET <c>request</c> parameter, and the cursor of <c>Last-Event-ID</c>.</summary>
    private static async Task<(IMessage? Request, string? Problem, int Status)> ReadRequestAsync(HttpContext context, StreamingMethod method, HttpStreamOptions options, ProtoJson json)
    {
        string text;
        if (HttpMethods.IsPost(context.Request.Method))
        {
            if (context.Request.ContentLength > options.MaxRequestBytes)
            {
                return (null, $"The request is larger than {options.MaxRequestBytes} bytes.", StatusCodes.Status413PayloadTooLarge);
            }

            using var body = new MemoryStream();
            var buffer = new byte[4096];
            int read;
            while ((read = await context.Request.Body.ReadAsync(buffer, context.RequestAborted)) > 0)
            {
                if (body.Length + read > options.MaxRequestBytes)
                {
                    return (null, $"The request is larger than {options.MaxRequestBytes} bytes.", StatusCodes.Status413PayloadTooLarge);
                }

                body.Write(buffer, 0, read);
            }

            text = body.Length == 0 ? "{}" : System.Text.Encoding.UTF8.GetString(body.GetBuffer(), 0, (int)body.Length);
        }
        else
        {
            text = context.Request.Query["request"].ToString() is { Length: > 0 } query ? query : "{}";
            if (text.Length > options.MaxRequestBytes)
            {
                return (null, $"The request is larger than {options.MaxRequestBytes} bytes.", StatusCodes.Status413PayloadTooLarge);
            }
        }

        IMessage request;
        try
        {
            request = json.Parse(text, method.Descriptor.InputType);
        }
        catch (Exception ex) when (ex is InvalidJsonException or InvalidProtocolBufferException or FormatException or InvalidOperationException)
        {
            return (null, $"The request does not fit {method.Descriptor.InputType.FullName}: {ex.Message}", StatusCodes.Status400BadRequest);
        }

        // EventSource sends the last id it saw when it reconnects; a client may also name it itself.
        var last = context.Request.Headers["Last-Event-ID"].ToString() is { Length: > 0 } header ? header : context.Request.Query["lastEventId"].ToString();
        if (last.Length > 0)
        {
            if (method.Cursor is not { } cursor)
            {
                return (null, $"'{method.FullName}' declares no cursor to resume from (Last-Event-ID).", StatusCodes.Status400BadRequest);
            }

            try
            {
                request = cursor.After(request, last);
            }
            catch (Exception ex) when (ex is FormatException or OverflowException)
            {
                return (null, $"Last-Event-ID '{(last.Length > 64 ? last[..64] + "…" : last)}' is not a position of '{method.FullName}'.", StatusCodes.Status400BadRequest);
            }
        }

        return (request, null, 0);
    }

    /// <summary>The caller from the <c>Authorization</c> header or, for <c>EventSource</c>, a stream ticket.</summary>
    private static async Task<(Caller Caller, DateTimeOffset? Expires, string? Refusal)> AuthenticateAsync(HttpContext context, StreamingMethod method, EdgeTokens tokens)
    {
        var header = context.Request.Headers.Authorization.ToString();
        if (header.Length == 0 && context.Request.Query["ticket"].ToString() is { Length: > 0 } ticket)
        {
            // EventSource: the token arrives sealed in a single-use ticket instead of a header.
            var (sealedToken, problem) = context.RequestServices.GetRequiredService<StreamTickets>().Redeem(ticket);
            if (sealedToken is null)
            {
                return (default, null, $"The stream ticket was refused: {problem}.");
            }

            header = "Bearer " + sealedToken;
        }

        return await BearerCallers.AuthenticateAsync(context, header, method.FullName, method.Policy.RequiresToken, tokens);
    }
}

internal sealed record TicketBody(string Ticket, string ExpiresAt);

[System.Text.Json.Serialization.JsonSourceGenerationOptions(PropertyNamingPolicy = System.Text.Json.Serialization.JsonKnownNamingPolicy.CamelCase)]
[System.Text.Json.Serialization.JsonSerializable(typeof(TicketBody))]
internal sealed partial class TicketJsonContext : System.Text.Json.Serialization.JsonSerializerContext;
