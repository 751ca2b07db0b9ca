using System.Text.Json;
using System.Text.Json.Nodes;
using EdgeBridge.Contracts;
using EdgeBridge.Responses;
using EdgeBridge.Security;
using EdgeBridge.Upstream;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace EdgeBridge.Transcoding;

/// <summary>
/// REST transcoded at the edge, for backends that do not transcode themselves (any language): a request that no proxy
/// route takes but that matches a <c>google.api.http</c> rule of a loaded contract becomes that method's gRPC call to
/// the upstream cluster — path variables, the body (<c>*</c> or one field) and the query string fill the request
/// message; the response (or its <c>response_body</c> field) is the JSON body; a failure is a google.rpc.Status with
/// the HTTP status JSON transcoding gives it. Anything else gets the edge's 404.
/// </summary>
internal static class TranscodingEndpoint
{
    private static readonly HashSet<string> s_methods = new(["GET", "POST", "PUT", "PATCH", "DELETE"], StringComparer.OrdinalIgnoreCase);

    public static IEndpointConventionBuilder Map(IEndpointRouteBuilder endpoints, RequestDelegate notFound)
    {
        var builder = endpoints.MapMethods("/{**path}", [.. s_methods], context => HandleAsync(context, notFound))
            .WithDisplayName("EdgeBridge REST transcoding")
            .RequireRateLimiting(EdgeBridgeDefaults.RestRateLimiterPolicy)
            .RequireCors(EdgeBridgeDefaults.CorsPolicy);

        // After every other route (the proxy's are 0, Connect's 1): only a request nothing else takes is transcoded.
        builder.Add(static endpoint => ((RouteEndpointBuilder)endpoint).Order = 2);
        return builder;
    }

    private static async Task HandleAsync(HttpContext context, RequestDelegate notFound)
    {
        var services = context.RequestServices;
        var catalog = services.GetRequiredService<ContractSource>().Current;
        // The raw path: a variable's value is decoded once, by the binding (an encoded '/' stays inside the value).
        var raw = context.Features.Get<IHttpRequestFeature>()?.RawTarget ?? context.Request.Path.Value ?? "/";
        var path = raw.IndexOf('?') is var query and >= 0 ? raw[..query] : raw;
        if (RpcStatusWriter.IsGrpc(context) || catalog.FindRest(context.Request.Method, path) is not var (template, method)
            || method.Descriptor.IsClientStreaming || method.Descriptor.IsServerStreaming)
        {
            await notFound(context);
            return;
        }

        SecurityHeaders.Apply(context);
        if (!BrowserOrigins.IsAllowed(context, out var origin))
        {
            await RpcStatusWriter.WriteAsync(context, StatusCode.PermissionDenied, $"Origin '{origin}' is not allowed.");
            return;
        }

        var options = services.GetRequiredService<IOptionsMonitor<EdgeBridgeOptions>>().CurrentValue;
        var (caller, _, refusal) = await BearerCallers.AuthenticateAsync(context, context.Request.Headers.Authorization.ToString(),
            method.Descriptor.FullName, method.RequiresCaller, services.GetRequiredService<EdgeTokens>());
        if (refusal is not null)
        {
            context.Response.Headers.WWWAuthenticate = "Bearer";
            await RpcStatusWriter.WriteAsync(context, StatusCode.Unauthenticated, refusal);
            return;
        }

        IMessage request;
        try
        {
            var body = await ReadBodyAsync(context, options.Rest.MaxRequestBodySize);
            if (body is null)
            {
                await RpcStatusWriter.WriteAsync(context, StatusCode.InvalidArgument, $"The request body is larger than {options.Rest.MaxRequestBodySize} bytes.",
                    StatusCodes.Status413PayloadTooLarge);
                return;
            }

            request = RequestMessages.Build(template, method.Descriptor.InputType, path, context.Request.Query, body, catalog.Json);
        }
        catch (FormatException ex)
        {
            await RpcStatusWriter.WriteAsync(context, StatusCode.InvalidArgument, ex.Message);
            return;
        }
        catch (InvalidProtocolBufferException ex)
        {
            await RpcStatusWriter.WriteAsync(context, StatusCode.InvalidArgument, ex.Message);
            return;
        }

        // A credential check is throttled here as on the proxied paths: a throttled attempt never costs the backend a hash.
        var throttle = method.Principal is not null ? services.GetRequiredService<LoginThrottle>() : null;
        var principal = method.Principal is { } field ? MessageFields.Get(request, field) as string : null;
        if (throttle?.RetryAfterSeconds(caller.Address, principal) is { } seconds)
        {
            context.Response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
            await RpcStatusWriter.WriteAsync(context, StatusCode.ResourceExhausted, $"Too many failed attempts; retry after {seconds} s.");
            return;
        }

        var time = services.GetRequiredService<TimeProvider>();
        var (response, error) = await services.GetRequiredService<UpstreamCalls>().CallAsync(method.UnaryGrpcMethod, request, caller.Token,
            time.GetUtcNow().UtcDateTime + options.Rpc.DefaultTimeout, context.RequestAborted);
        throttle?.Record(caller.Address, principal, (StatusCode)(error?.Code ?? 0));

        var answer = context.Response;
        if (error is not null)
        {
            answer.StatusCode = RpcStatusWriter.ToHttpStatus((StatusCode)error.Code);
            answer.ContentType = "application/json; charset=utf-8";
            answer.Headers.CacheControl = "no-store";
            await answer.Body.WriteAsync(catalog.Json.FormatUtf8(error), context.RequestAborted);
            return;
        }

        var json = catalog.Json.FormatUtf8(ResponseBody(response!, template));
        answer.StatusCode = StatusCodes.Status200OK;
        answer.ContentType = "application/json; charset=utf-8";
        if (HttpMethods.IsGet(context.Request.Method) && json.Length <= options.Rest.MaxETagBodySize)
        {
            // As the proxied REST routes: revalidated with its ETag each time, private to the caller.
            if (EntityTags.Revalidate(context, json, "private, no-cache"))
            {
                return;
            }
        }

        answer.ContentLength = json.Length;
        await answer.Body.WriteAsync(json, context.RequestAborted);
    }

    private static IMessage ResponseBody(IMessage response, HttpRuleTemplate template) =>
        template.ResponseBody.Length > 0 && response.Descriptor.FindFieldByName(template.ResponseBody) is { FieldType: FieldType.Message, IsRepeated: false } field
            ? MessageFields.Get(response, field) as IMessage ?? NewMessage(field.MessageType)
            : response;

    private static IMessage NewMessage(MessageDescriptor type) =>
        type.Parser?.ParseFrom(ReadOnlySpan<byte>.Empty) ?? Contracts.Dynamic.DescriptorCodec.Upstream.ParseBinary(type, ReadOnlySpan<byte>.Empty);

    /// <summary>The whole body, up to <paramref name="limit"/> bytes; null when it is longer.</summary>
    private static async Task<byte[]?> ReadBodyAsync(HttpContext context, long limit)
    {
        if (context.Request.ContentLength > limit)
        {
            return null;
        }

        using var buffer = new MemoryStream();
        var chunk = new byte[4096];
        int read;
        while ((read = await context.Request.Body.ReadAsync(chunk, context.RequestAborted)) > 0)
        {
            if (buffer.Length + read > limit)
            {
                return null;
            }

            buffer.Write(chunk, 0, read);
        }

        return buffer.ToArray();
    }
}

/// <summary>The request message of a transcoded call, from the rule's path variables, body and the query string.</summary>
internal static class RequestMessages
{
    public static IMessage Build(HttpRuleTemplate template, MessageDescriptor type, string path, IQueryCollection query, byte[] body, ProtoJson json)
    {
        JsonObject root;
        if (template.Body == "*")
        {
            root = body.Length == 0 ? [] : ParseObject(body, "The body");
        }
        else
        {
            root = [];
            if (template.Body.Length > 0 && body.Length > 0)
            {
                root[template.Body] = Parse(body);
            }
        }

        var bound = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (variable, value) in template.Bind(path) ?? [])
        {
            Set(root, type, variable, [value]);
            bound.Add(variable);
        }

        // With body "*" every field comes from the body; otherwise the query string fills the rest (repeated: repeated keys).
        if (template.Body != "*")
        {
            foreach (var (key, values) in query)
            {
                if (!bound.Contains(key) && key != template.Body)
                {
                    Set(root, type, key, [.. values.OfType<string>()], ignoreUnknown: true);
                }
            }
        }

        return json.Parse(root.ToJsonString(), type);
    }

    private static JsonNode? Parse(byte[] body)
    {
        try
        {
            return JsonNode.Parse(body);
        }
        catch (JsonException ex)
        {
            throw new FormatException("The body is not JSON: " + ex.Message, ex);
        }
    }

    private static JsonObject ParseObject(byte[] body, string what) =>
        Parse(body) as JsonObject ?? throw new FormatException(what + " must be a JSON object.");

    /// <summary>Sets the field at a dotted path (proto or JSON names) from text, typed as proto3 JSON wants it.</summary>
    private static void Set(JsonObject root, MessageDescriptor type, string fieldPath, string[] values, bool ignoreUnknown = false)
    {
        var names = fieldPath.Split('.');
        var node = root;
        for (var i = 0; i < names.Length; i++)
        {
            var field = type.FindFieldByName(names[i]) ?? type.Fields.InDeclarationOrder().FirstOrDefault(f => f.JsonName == names[i]);
            if (field is null)
            {
                if (ignoreUnknown)
                {
                    return;
                }

                throw new FormatException($"'{fieldPath}' names no field of {type.FullName}.");
            }

            if (i < names.Length - 1)
            {
                if (field.FieldType != FieldType.Message || field.IsRepeated)
                {
                    throw new FormatException($"'{fieldPath}': {field.Name} is not a message field.");
                }

                node = node[field.JsonName] as JsonObject ?? (JsonObject)(node[field.JsonName] = new JsonObject());
                type = field.MessageType;
                continue;
            }

            node[field.JsonName] = field.IsRepeated
                ? new JsonArray([.. values.Select(v => Scalar(field, v, fieldPath))])
                : Scalar(field, values[^1], fieldPath);
        }
    }

    private static JsonValue Scalar(FieldDescriptor field, string text, string fieldPath) => field.FieldType switch
    {
        FieldType.Bool => text switch
        {
            "true" => JsonValue.Create(true),
            "false" => JsonValue.Create(false),
            _ => throw new FormatException($"{fieldPath}: '{text}' is not true or false."),
        },
        // An enum by number is a JSON number; by name a string. Numbers as strings are proto3 JSON already.
        FieldType.Enum when int.TryParse(text, System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out var number) => JsonValue.Create(number),
        FieldType.Message when !field.MessageType.FullName.StartsWith("google.protobuf.", StringComparison.Ordinal) =>
            throw new FormatException($"{fieldPath} is a message: it cannot come from a path or query parameter."),
        _ => JsonValue.Create(text),
    };
}
