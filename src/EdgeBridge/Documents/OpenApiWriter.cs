using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using EdgeBridge.Contracts.V1;
using Google.Api;
using Google.Protobuf.Reflection;

namespace EdgeBridge.Documents;

/// <summary>
/// OpenAPI 3.1 for every <c>google.api.http</c> rule of the contract: the routes JSON transcoding serves, with
/// schemas of the JSON on the wire, google.rpc.Status errors, bearer security and the proto comments.
/// </summary>
internal static partial class OpenApiWriter
{

    public static JsonObject Write(IReadOnlyList<FileDescriptor> files, string title, string version,
        IReadOnlyCollection<Contracts.StreamingMethod>? streams = null, string streamPath = "/stream", IReadOnlyCollection<Contracts.UnaryMethod>? rpcCalls = null,
        Func<MethodDescriptor, bool>? requiresCaller = null, Func<MethodDescriptor, HttpRule?>? httpRule = null)
    {
        // The catalog's rule when there is one: an API configuration may give a method the rule its .proto lacks.
        httpRule ??= static method => method.GetOptions()?.GetExtension(AnnotationsExtensions.Http);
        // The catalog's answer when there is one: configuration may expose a method with AUTH_REQUIRED its .proto lacks.
        requiresCaller ??= static method => method.GetOptions()?.GetExtension(OptionsExtensions.Access) == Auth.Required;
        var schemas = new ProtoSchemas("#/components/schemas/");
        var paths = new SortedDictionary<string, JsonObject>(StringComparer.Ordinal);
        var tags = new JsonArray();
        foreach (var service in files.SelectMany(f => f.Services))
        {
            var routed = false;
            foreach (var method in service.Methods)
            {
                if (method.IsClientStreaming || method.IsServerStreaming || httpRule(method) is not { } rule)
                {
                    continue;
                }

                var bindings = new[] { rule }.Concat(rule.AdditionalBindings).ToList();
                for (var i = 0; i < bindings.Count; i++)
                {
                    var (verb, template) = Pattern(bindings[i]);
                    var (path, variables) = Template(template);
                    if (!paths.TryGetValue(path, out var item))
                    {
                        paths[path] = item = new JsonObject();
                    }

                    item[verb] = Operation(method, bindings[i], variables, schemas, i == 0 ? "" : "_" + i, requiresCaller(method));
                    routed = true;
                }
            }

            if (routed)
            {
                tags.Add(new JsonObject { ["name"] = service.Name, ["description"] = ProtoSchemas.Comment(service) });
            }
        }

        // Every exposed server stream over HTTP, with the descriptors that carry comments where there are some.
        var described = files.SelectMany(f => f.Services).SelectMany(s => s.Methods).ToDictionary(m => m.FullName, StringComparer.Ordinal);
        foreach (var stream in (streams ?? []).Where(s => !s.ClientSends))
        {
            var method = described.GetValueOrDefault(stream.Descriptor.FullName) ?? stream.Descriptor;
            paths[$"{streamPath}/{stream.FullName}"] = StreamOperations(method, stream, schemas);
        }

        // The same methods through the Connect protocol and gRPC-Web, for clients that already speak them.
        foreach (var call in rpcCalls ?? [])
        {
            var method = described.GetValueOrDefault(call.Descriptor.FullName) ?? call.Descriptor;
            paths["/" + call.FullName] = RpcOperations(method, call.NoSideEffects, call.Contract.RequiresCaller, schemas, streaming: false);
        }

        foreach (var stream in (rpcCalls is null ? [] : streams ?? []).Where(s => !s.ClientSends))
        {
            var method = described.GetValueOrDefault(stream.Descriptor.FullName) ?? stream.Descriptor;
            paths["/" + stream.FullName] = RpcOperations(method, false, stream.Policy.RequiresToken, schemas, streaming: true);
        }

        var components = new JsonObject();
        if (rpcCalls is not null)
        {
            components["ConnectError"] = ConnectError();
        }

        foreach (var (name, schema) in schemas.All)
        {
            components[name] = schema.DeepClone();
        }

        var pathsObject = new JsonObject();
        foreach (var (path, item) in paths)
        {
            pathsObject[path] = item;
        }

        return new JsonObject
        {
            ["openapi"] = "3.1.0",
            ["info"] = new JsonObject
            {
                ["title"] = title,
                ["version"] = version,
                ["description"] = "REST/JSON routes of the contract, as served through the edge, its server streams over HTTP, and (where the edge serves them) its methods over the Connect protocol and gRPC-Web. Generated from the proto descriptors.",
            },
            ["servers"] = new JsonArray(new JsonObject { ["url"] = "/" }),
            ["tags"] = tags,
            ["paths"] = pathsObject,
            ["components"] = new JsonObject
            {
                ["schemas"] = components,
                ["securitySchemes"] = new JsonObject
                {
                    ["bearer"] = new JsonObject { ["type"] = "http", ["scheme"] = "bearer", ["bearerFormat"] = "JWT" },
                },
            },
        };
    }

    private static JsonObject Operation(MethodDescriptor method, HttpRule rule, List<string> variables, ProtoSchemas schemas, string suffix, bool requiresCaller)
    {
        var input = method.InputType;
        var parameters = new JsonArray();
        var bound = new HashSet<string>(StringComparer.Ordinal);
        foreach (var variable in variables)
        {
            var field = FieldByPath(input, variable);
            bound.Add(variable);
            parameters.Add(new JsonObject
            {
                ["name"] = variable,
                ["in"] = "path",
                ["required"] = true,
                ["description"] = ProtoSchemas.Comment(field),
                ["schema"] = Plain(schemas.Field(field)),
            });
        }

        var operation = new JsonObject
        {
            ["operationId"] = method.Service.Name + "_" + method.Name + suffix,
            ["tags"] = new JsonArray(method.Service.Name),
            ["summary"] = FirstSentence(ProtoSchemas.Comment(method)),
            ["description"] = ProtoSchemas.Comment(method) + $"\n\ngRPC: `{method.Service.FullName}/{method.Name}`",
        };

        if (rule.Body == "*")
        {
            operation["requestBody"] = Body(schemas.MessageWithout(input, bound));
        }
        else
        {
            if (rule.Body.Length > 0)
            {
                var bodyField = input.FindFieldByName(rule.Body);
                bound.Add(bodyField.Name);
                operation["requestBody"] = Body(schemas.Field(bodyField));
            }

            foreach (var field in input.Fields.InDeclarationOrder().Where(f => !bound.Contains(f.Name) && IsQueryable(f)))
            {
                parameters.Add(new JsonObject
                {
                    ["name"] = field.JsonName,
                    ["in"] = "query",
                    ["description"] = ProtoSchemas.Comment(field),
                    ["schema"] = Plain(schemas.Field(field)),
                });
            }
        }

        if (parameters.Count > 0)
        {
            operation["parameters"] = parameters;
        }

        var output = rule.ResponseBody.Length > 0 ? schemas.Field(method.OutputType.FindFieldByName(rule.ResponseBody)) : schemas.Reference(method.OutputType);
        operation["responses"] = new JsonObject
        {
            ["200"] = new JsonObject
            {
                ["description"] = "OK: " + method.OutputType.FullName,
                ["content"] = new JsonObject { ["application/json"] = new JsonObject { ["schema"] = output } },
            },
            ["default"] = new JsonObject
            {
                ["description"] = "An error: the HTTP status maps the gRPC code (400 INVALID_ARGUMENT/FAILED_PRECONDITION, 401 UNAUTHENTICATED, 403 PERMISSION_DENIED, 404 NOT_FOUND, 429 RESOURCE_EXHAUSTED, 503 UNAVAILABLE, ...).",
                ["content"] = new JsonObject { ["application/json"] = new JsonObject { ["schema"] = schemas.Status() } },
            },
        };

        if (requiresCaller)
        {
            operation["security"] = new JsonArray(new JsonObject { ["bearer"] = new JsonArray() });
        }

        return operation;
    }

    private static JsonObject StreamOperations(MethodDescriptor method, Contracts.StreamingMethod stream, ProtoSchemas schemas)
    {
        JsonObject Operation(string verb)
        {
            var events = "Each message as `{\"type\":\"next\",\"message\":" + method.OutputType.FullName + "}` (with `dropped` when a drop-oldest stream "
                + "skipped some), then `{\"type\":\"complete\"}` or `{\"type\":\"error\",\"status\":google.rpc.Status}`: as server-sent events "
                + "(`event: next|complete|error`" + (stream.Cursor is null ? "" : $", `id:` the message's `{stream.Cursor.ResponseField}`") + ", heartbeat comments) "
                + "or NDJSON lines (heartbeat lines `{\"type\":\"heartbeat\"}`), chosen by `Accept`.";
            var operation = new JsonObject
            {
                ["operationId"] = $"{method.Service.Name}_{method.Name}_Stream{(verb == "get" ? "Get" : "")}",
                ["tags"] = new JsonArray(method.Service.Name),
                ["summary"] = FirstSentence(ProtoSchemas.Comment(method)) is { Length: > 0 } summary ? summary : $"Stream {method.Name}",
                ["description"] = ProtoSchemas.Comment(method) + $"\n\nThe server stream `{method.Service.FullName}/{method.Name}` over HTTP; the same subscription as on the WebSocket. "
                    + (stream.Cursor is null ? "" : $"`Last-Event-ID` (or `lastEventId`) resumes after that `{stream.Cursor.ResponseField}`. ") + events,
            };
            var parameters = new JsonArray();
            if (verb == "get")
            {
                parameters.Add(new JsonObject { ["name"] = "request", ["in"] = "query", ["description"] = $"The proto3 JSON of {method.InputType.FullName}, URL-encoded.", ["schema"] = new JsonObject { ["type"] = "string" } });
                parameters.Add(new JsonObject { ["name"] = "ticket", ["in"] = "query", ["description"] = "A stream ticket from `POST /stream/tickets`, for EventSource, which cannot send an Authorization header.", ["schema"] = new JsonObject { ["type"] = "string" } });
            }
            else
            {
                operation["requestBody"] = Body(schemas.Reference(method.InputType));
            }

            if (stream.Cursor is not null)
            {
                parameters.Add(new JsonObject { ["name"] = "Last-Event-ID", ["in"] = "header", ["description"] = "Resume after this cursor.", ["schema"] = new JsonObject { ["type"] = "string" } });
            }

            operation["parameters"] = parameters;
            operation["responses"] = new JsonObject
            {
                ["200"] = new JsonObject
                {
                    ["description"] = events,
                    ["content"] = new JsonObject
                    {
                        ["text/event-stream"] = new JsonObject { ["schema"] = new JsonObject { ["type"] = "string" } },
                        ["application/x-ndjson"] = new JsonObject { ["schema"] = new JsonObject { ["type"] = "string" } },
                    },
                },
                ["406"] = new JsonObject
                {
                    ["description"] = "Accept allows neither text/event-stream nor application/x-ndjson.",
                    ["content"] = new JsonObject { ["application/json"] = new JsonObject { ["schema"] = schemas.Status() } },
                },
                ["default"] = new JsonObject
                {
                    ["description"] = "An error before the stream opened (400 a request that does not fit, 401 no or a refused token or ticket, 404 no such stream, 429/503 with Retry-After).",
                    ["content"] = new JsonObject { ["application/json"] = new JsonObject { ["schema"] = schemas.Status() } },
                },
            };
            if (stream.Policy.RequiresToken)
            {
                operation["security"] = new JsonArray(new JsonObject { ["bearer"] = new JsonArray() });
            }

            return operation;
        }

        return new JsonObject { ["get"] = Operation("get"), ["post"] = Operation("post") };
    }

    /// <summary>A method as Connect (unary, GET when side-effect-free, or a server stream) and gRPC-Web call it.</summary>
    private static JsonObject RpcOperations(MethodDescriptor method, bool noSideEffects, bool requiresToken, ProtoSchemas schemas, bool streaming)
    {
        var grpcWeb = "gRPC-Web (`application/grpc-web+proto`, `application/grpc-web-text`) reaches the same method: length-prefixed messages, "
            + "the status in a trailers frame or, before any message, in `grpc-status` headers. `grpc-timeout` sets a deadline.";
        JsonObject Operation(bool get)
        {
            var description = streaming
                ? $"The server stream `{method.Service.FullName}/{method.Name}` over the Connect protocol: the request is one enveloped `{method.InputType.FullName}` "
                    + "(`application/connect+json` or `+proto`); the answer is 200 with enveloped messages and Connect's end-of-stream message "
                    + "(`{}` or `{\"error\":ConnectError}`). The same subscription as on the WebSocket (sharing, slow-consumer policy). "
                    + "`Connect-Timeout-Ms` ends it with `deadline_exceeded`. " + grpcWeb
                : get
                    ? $"`{method.Service.FullName}/{method.Name}` as a Connect GET (the method is marked `idempotency_level = NO_SIDE_EFFECTS`): "
                        + "cacheable, with an `ETag` (`If-None-Match` answers 304)."
                    : $"`{method.Service.FullName}/{method.Name}` over the Connect protocol: the request message as the body (`application/json` or "
                        + "`application/proto`), the response message as the answer, errors as Connect's error JSON with the HTTP status of their code. "
                        + "`Connect-Timeout-Ms` sets a deadline. " + grpcWeb;
            var operation = new JsonObject
            {
                ["operationId"] = $"{method.Service.Name}_{method.Name}_Connect{(get ? "Get" : "")}",
                ["tags"] = new JsonArray(method.Service.Name),
                ["summary"] = FirstSentence(ProtoSchemas.Comment(method)) is { Length: > 0 } summary ? summary : method.Name,
                ["description"] = description,
            };
            var error = new JsonObject { ["application/json"] = new JsonObject { ["schema"] = new JsonObject { ["$ref"] = "#/components/schemas/ConnectError" } } };
            var binary = new JsonObject { ["schema"] = new JsonObject { ["type"] = "string", ["contentEncoding"] = "binary" } };
            if (get)
            {
                operation["parameters"] = new JsonArray(
                    new JsonObject { ["name"] = "connect", ["in"] = "query", ["schema"] = new JsonObject { ["const"] = "v1" } },
                    new JsonObject { ["name"] = "encoding", ["in"] = "query", ["required"] = true, ["schema"] = new JsonObject { ["enum"] = new JsonArray("json", "proto") } },
                    new JsonObject { ["name"] = "message", ["in"] = "query", ["required"] = true, ["description"] = $"The `{method.InputType.FullName}`: proto3 JSON, or (with `base64=1`) its encoding in unpadded base64url.", ["schema"] = new JsonObject { ["type"] = "string" } },
                    new JsonObject { ["name"] = "base64", ["in"] = "query", ["schema"] = new JsonObject { ["const"] = "1" } });
            }
            else
            {
                operation["requestBody"] = new JsonObject
                {
                    ["required"] = true,
                    ["content"] = streaming
                        ? new JsonObject { ["application/connect+json"] = binary.DeepClone(), ["application/connect+proto"] = binary.DeepClone(), ["application/grpc-web+proto"] = binary.DeepClone() }
                        : new JsonObject { ["application/json"] = new JsonObject { ["schema"] = schemas.Reference(method.InputType) }, ["application/proto"] = binary.DeepClone(), ["application/grpc-web+proto"] = binary.DeepClone() },
                };
            }

            operation["responses"] = new JsonObject
            {
                ["200"] = new JsonObject
                {
                    ["description"] = streaming ? "The stream: enveloped messages, then the end of the stream (errors too)." : "The response message.",
                    ["content"] = streaming
                        ? new JsonObject { ["application/connect+json"] = binary.DeepClone(), ["application/connect+proto"] = binary.DeepClone(), ["application/grpc-web+proto"] = binary.DeepClone() }
                        : new JsonObject { ["application/json"] = new JsonObject { ["schema"] = schemas.Reference(method.OutputType) }, ["application/proto"] = binary.DeepClone(), ["application/grpc-web+proto"] = binary.DeepClone() },
                },
                ["default"] = new JsonObject { ["description"] = "A Connect error: its code, a message, the backend's details.", ["content"] = error },
            };
            if (requiresToken)
            {
                operation["security"] = new JsonArray(new JsonObject { ["bearer"] = new JsonArray() });
            }

            return operation;
        }

        var item = new JsonObject { ["post"] = Operation(get: false) };
        if (noSideEffects)
        {
            item["get"] = Operation(get: true);
        }

        return item;
    }

    /// <summary>The Connect protocol's error object.</summary>
    private static JsonObject ConnectError() => new()
    {
        ["type"] = "object",
        ["description"] = "A Connect error (connectrpc.com/docs/protocol): the gRPC code by its Connect name, a message, and the backend's google.rpc.Status details.",
        ["required"] = new JsonArray("code"),
        ["properties"] = new JsonObject
        {
            ["code"] = new JsonObject
            {
                ["enum"] = new JsonArray("canceled", "unknown", "invalid_argument", "deadline_exceeded", "not_found", "already_exists", "permission_denied",
                    "resource_exhausted", "failed_precondition", "aborted", "out_of_range", "unimplemented", "internal", "unavailable", "data_loss", "unauthenticated"),
            },
            ["message"] = new JsonObject { ["type"] = "string" },
            ["details"] = new JsonObject
            {
                ["type"] = "array",
                ["items"] = new JsonObject
                {
                    ["type"] = "object",
                    ["required"] = new JsonArray("type", "value"),
                    ["properties"] = new JsonObject
                    {
                        ["type"] = new JsonObject { ["type"] = "string", ["description"] = "The detail's full message name, e.g. google.rpc.ErrorInfo." },
                        ["value"] = new JsonObject { ["type"] = "string", ["description"] = "The detail's protobuf encoding, unpadded base64." },
                    },
                },
            },
        },
    };

    private static JsonObject Body(JsonObject schema) => new()
    {
        ["required"] = true,
        ["content"] = new JsonObject { ["application/json"] = new JsonObject { ["schema"] = schema } },
    };

    /// <summary>Query parameters carry scalars, enums, repeated scalars and scalar-like well-known types.</summary>
    private static bool IsQueryable(FieldDescriptor field) => !field.IsMap && (field.FieldType != FieldType.Message
        || field.MessageType.FullName is "google.protobuf.Timestamp" or "google.protobuf.Duration" or "google.protobuf.FieldMask"
            || field.MessageType.FullName.EndsWith("Value", StringComparison.Ordinal) && field.MessageType.File.Package == "google.protobuf");

    /// <summary>Parameters need plain schemas: drop the description wrapper used for fields.</summary>
    private static JsonObject Plain(JsonObject schema) =>
        schema.TryGetPropertyValue("allOf", out var allOf) && allOf is JsonArray { Count: 1 } items ? (JsonObject)items[0]!.DeepClone() : schema;

    private static (string Verb, string Template) Pattern(HttpRule rule) => Contracts.HttpRuleTemplate.PatternOf(rule) is var (method, path)
        ? (method.ToLowerInvariant(), path)
        : throw new InvalidOperationException("An http rule without a pattern.");

    /// <summary>Turns <c>/v1/{name=shelves/*}</c> into the OpenAPI path <c>/v1/{name}</c> and its variables.</summary>
    private static (string Path, List<string> Variables) Template(string template)
    {
        var variables = new List<string>();
        var path = Variable().Replace(template, match =>
        {
            variables.Add(match.Groups[1].Value);
            return "{" + match.Groups[1].Value + "}";
        });
        return (path, variables);
    }

    private static FieldDescriptor FieldByPath(MessageDescriptor message, string path)
    {
        FieldDescriptor? field = null;
        foreach (var part in path.Split('.'))
        {
            field = message.FindFieldByName(part) ?? throw new InvalidOperationException($"{message.FullName} has no field {part}.");
            if (field.FieldType == FieldType.Message)
            {
                message = field.MessageType;
            }
        }

        return field!;
    }

    private static string FirstSentence(string text)
    {
        var end = text.IndexOf(". ", StringComparison.Ordinal);
        var line = text.Split('\n')[0];
        return end > 0 && end < line.Length ? text[..(end + 1)] : line;
    }

    [GeneratedRegex(@"\{([a-zA-Z0-9_.]+)(?:=[^}]*)?\}")]
    private static partial Regex Variable();
}
