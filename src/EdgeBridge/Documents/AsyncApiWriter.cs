using System.Text.Json.Nodes;
using EdgeBridge.Contracts;
using Google.Protobuf.Reflection;

namespace EdgeBridge.Documents;

/// <summary>
/// AsyncAPI 3.0 for the <c>edgebridge.v1</c> WebSocket endpoint: the frame envelope, and for every exposed
/// streaming method a subscribe operation whose replies are its <c>next</c>, <c>complete</c> and <c>error</c> frames,
/// with the method's delivery policy.
/// </summary>
internal static class AsyncApiWriter
{
    private const string Channel = "edgebridge";
    private const string ChannelRef = "#/channels/" + Channel;

    public static JsonObject Write(IReadOnlyCollection<StreamingMethod> methods, IReadOnlyList<FileDescriptor> described, string title, string version, string path,
        string streamPath = "/stream", IReadOnlyCollection<SocketCallMethod>? calls = null, bool rpc = false)
    {
        var schemas = new ProtoSchemas("#/components/schemas/");
        var messages = new JsonObject();
        var channelMessages = new JsonObject();
        var operations = new JsonObject();

        void AddMessage(string name, string summary, JsonObject payload)
        {
            messages[name] = new JsonObject { ["name"] = name, ["summary"] = summary, ["contentType"] = "application/json", ["payload"] = payload };
            channelMessages[name] = new JsonObject { ["$ref"] = "#/components/messages/" + name };
        }

        JsonArray Refs(params string[] names) => new([.. names.Select(n => (JsonNode)new JsonObject { ["$ref"] = ChannelRef + "/messages/" + n })]);

        AddMessage("init", "First frame: authenticates the connection.", Frame("init", new JsonObject { ["token"] = new JsonObject { ["type"] = "string" } }));
        AddMessage("ack", "Answer to init and auth.", Frame("ack", new JsonObject
        {
            ["connectionId"] = new JsonObject { ["type"] = "string" },
            ["limits"] = new JsonObject { ["type"] = "object" },
        }, "connectionId", "limits"));
        AddMessage("auth", "Replaces the connection's token before it expires.", Frame("auth", new JsonObject { ["token"] = new JsonObject { ["type"] = "string" } }, "token"));
        AddMessage("ping", "Keepalive; answered with pong.", Frame("ping", new JsonObject()));
        AddMessage("pong", "Answer to ping.", Frame("pong", new JsonObject()));
        AddMessage("unsubscribe", "Ends a subscription; answered with complete.", Frame("unsubscribe", Id(), "id"));
        AddMessage("complete", "The subscription ended normally.", Frame("complete", Id(), "id"));
        AddMessage("end", "Half-closes a client-streaming or bidirectional stream: the client sends no more messages on it.", Frame("end", Id(), "id"));
        AddMessage("error", "The subscription ended with a google.rpc.Status (without id: a frame was rejected).", Frame("error", new JsonObject
        {
            ["id"] = new JsonObject { ["type"] = "string" },
            ["status"] = schemas.Status(),
        }, "status"));

        operations["init"] = new JsonObject
        {
            ["action"] = "send",
            ["channel"] = new JsonObject { ["$ref"] = ChannelRef },
            ["summary"] = "Initialise the connection.",
            ["messages"] = Refs("init"),
            ["reply"] = new JsonObject { ["channel"] = new JsonObject { ["$ref"] = ChannelRef }, ["messages"] = Refs("ack") },
        };
        operations["auth"] = new JsonObject
        {
            ["action"] = "send",
            ["channel"] = new JsonObject { ["$ref"] = ChannelRef },
            ["summary"] = "Refresh the token.",
            ["messages"] = Refs("auth"),
            ["reply"] = new JsonObject { ["channel"] = new JsonObject { ["$ref"] = ChannelRef }, ["messages"] = Refs("ack", "error") },
        };
        operations["ping"] = new JsonObject
        {
            ["action"] = "send",
            ["channel"] = new JsonObject { ["$ref"] = ChannelRef },
            ["messages"] = Refs("ping"),
            ["reply"] = new JsonObject { ["channel"] = new JsonObject { ["$ref"] = ChannelRef }, ["messages"] = Refs("pong") },
        };
        operations["unsubscribe"] = new JsonObject
        {
            ["action"] = "send",
            ["channel"] = new JsonObject { ["$ref"] = ChannelRef },
            ["messages"] = Refs("unsubscribe"),
            ["reply"] = new JsonObject { ["channel"] = new JsonObject { ["$ref"] = ChannelRef }, ["messages"] = Refs("complete", "error") },
        };

        var byName = described.SelectMany(f => f.Services).SelectMany(s => s.Methods)
            .ToDictionary(m => m.Service.FullName + "/" + m.Name, StringComparer.Ordinal);
        foreach (var method in methods.OrderBy(m => m.FullName, StringComparer.Ordinal))
        {
            // Prefer the descriptor with source info, for the comments.
            var descriptor = byName.GetValueOrDefault(method.FullName) ?? method.Descriptor;
            var key = method.FullName.Replace('/', '.');
            var subscribe = new JsonObject
            {
                ["id"] = new JsonObject { ["type"] = "string", ["minLength"] = 1, ["maxLength"] = 64 },
                ["method"] = new JsonObject { ["const"] = method.FullName },
                ["encoding"] = new JsonObject
                {
                    ["enum"] = new JsonArray("json", "proto"),
                    ["default"] = "json",
                    ["description"] = "How next frames carry messages: this JSON text frame, or (proto) a binary frame holding an edgebridge.v1.NextFrame with the message in protobuf binary encoding.",
                },
                ["metadata"] = new JsonObject
                {
                    ["type"] = "object",
                    ["maxProperties"] = 16,
                    ["additionalProperties"] = new JsonObject { ["type"] = "string" },
                    ["description"] = method.Policy.Shared
                        ? "Not accepted: one upstream call serves every subscriber of the same request."
                        : "Metadata for the upstream call; only the keys the edge forwards (EdgeBridge:WebSockets:ForwardedMetadata).",
                },
            };
            var sent = new List<string> { key + ".subscribe" };
            if (method.ClientSends)
            {
                // The client's messages are send frames; the subscribe only opens the call.
                AddMessage(key + ".send", "One message for " + method.FullName + ".", Frame("send", new JsonObject
                {
                    ["id"] = new JsonObject { ["type"] = "string" },
                    ["message"] = schemas.Reference(descriptor.InputType),
                }, "id", "message"));
                sent.Add(key + ".send");
                sent.Add("end");
            }
            else
            {
                subscribe["request"] = schemas.Reference(descriptor.InputType);
            }

            AddMessage(key + ".subscribe", (method.ClientSends ? "Open " : "Subscribe to ") + method.FullName + ".", Frame("subscribe", subscribe, "id", "method"));
            AddMessage(key + ".next", "One message of " + method.FullName + " (a binary edgebridge.v1.NextFrame instead when subscribed with encoding proto).", Frame("next", new JsonObject
            {
                ["id"] = new JsonObject { ["type"] = "string" },
                ["dropped"] = new JsonObject { ["type"] = "integer", ["minimum"] = 1, ["description"] = "Messages discarded by the drop-oldest policy since the last delivered one." },
                ["message"] = schemas.Reference(descriptor.OutputType),
            }, "id", "message"));

            var policy = method.Policy;
            operations[key] = new JsonObject
            {
                ["action"] = "send",
                ["channel"] = new JsonObject { ["$ref"] = ChannelRef },
                ["title"] = method.FullName,
                ["summary"] = ProtoSchemas.Comment(descriptor).Split('\n')[0],
                ["description"] = ProtoSchemas.Comment(descriptor) + Policy(policy) + (method.ClientSends
                    ? $"\n\nA {(method.Kind == StreamKind.Client ? "client-streaming" : "bidirectional")} stream: `subscribe` opens the call, each `send` frame carries one message upstream (at most {method.SendQueueLimit} waiting; one more ends the stream with 8), `end` half-closes it. Over the socket only."
                    : $"\n\nAlso over plain HTTP, as server-sent events or NDJSON: `GET|POST {streamPath}/{method.FullName}`"
                        + (rpc ? $", and as a Connect or gRPC-Web server stream: `POST /{method.FullName}`" : "") + " (see the OpenAPI document); the same subscription, policy and statuses."),
                ["messages"] = Refs([.. sent]),
                ["reply"] = new JsonObject
                {
                    ["channel"] = new JsonObject { ["$ref"] = ChannelRef },
                    ["messages"] = Refs(key + ".next", "complete", "error"),
                },
                ["x-edgebridge-policy"] = new JsonObject
                {
                    ["kind"] = method.Kind switch { StreamKind.Client => "client", StreamKind.Bidirectional => "bidirectional", _ => "server" },
                    ["sharing"] = policy.Shared ? "shared" : "per-caller",
                    ["queueLimit"] = policy.QueueLimit,
                    ["slowConsumer"] = policy.DropOldest ? "drop-oldest" : "end-subscription",
                    ["auth"] = policy.RequiresToken ? "required" : policy.ForwardsToken ? "forwarded-when-present" : "none",
                },
            };
            if (method.ClientSends)
            {
                operations[key]!["x-edgebridge-policy"]!["sendQueueLimit"] = method.SendQueueLimit;
            }
            if (method.Cursor is { } cursor)
            {
                // Where the edge continues the stream after a failover, and where a client resumes after a reconnect.
                operations[key]!["x-edgebridge-policy"]!["resume"] = new JsonObject
                {
                    ["requestField"] = cursor.RequestField,
                    ["responseField"] = cursor.ResponseField,
                };
            }
        }

        // Unary calls on the socket: call → result (or error), for the methods the contract opts in.
        foreach (var call in (calls ?? []).OrderBy(c => c.FullName, StringComparer.Ordinal))
        {
            var descriptor = byName.GetValueOrDefault(call.FullName) ?? call.Descriptor;
            var key = call.FullName.Replace('/', '.');
            AddMessage(key + ".call", "Call " + call.FullName + ".", Frame("call", new JsonObject
            {
                ["id"] = new JsonObject { ["type"] = "string", ["minLength"] = 1, ["maxLength"] = 64 },
                ["method"] = new JsonObject { ["const"] = call.FullName },
                ["request"] = schemas.Reference(descriptor.InputType),
            }, "id", "method"));
            AddMessage(key + ".result", "The answer of " + call.FullName + ".", Frame("result", new JsonObject
            {
                ["id"] = new JsonObject { ["type"] = "string" },
                ["message"] = schemas.Reference(descriptor.OutputType),
            }, "id", "message"));
            operations[key + ".call"] = new JsonObject
            {
                ["action"] = "send",
                ["channel"] = new JsonObject { ["$ref"] = ChannelRef },
                ["title"] = call.FullName,
                ["summary"] = ProtoSchemas.Comment(descriptor).Split('\n')[0],
                ["description"] = ProtoSchemas.Comment(descriptor) + $"\n\nA unary call over the socket ({(call.RequiresToken ? "needs the connection's token" : "no token needed")}; answered within {call.Timeout.TotalSeconds:0.#} s).",
                ["messages"] = Refs(key + ".call"),
                ["reply"] = new JsonObject { ["channel"] = new JsonObject { ["$ref"] = ChannelRef }, ["messages"] = Refs(key + ".result", "error") },
            };
        }

        var components = new JsonObject();
        foreach (var (name, schema) in schemas.All)
        {
            components[name] = schema.DeepClone();
        }

        return new JsonObject
        {
            ["asyncapi"] = "3.0.0",
            ["info"] = new JsonObject
            {
                ["title"] = title,
                ["version"] = version,
                ["description"] = "The edgebridge.v1 WebSocket protocol: every exposed server-streaming method of the contract as a subscription on one multiplexed socket. Generated from the proto descriptors.",
            },
            ["defaultContentType"] = "application/json",
            ["servers"] = new JsonObject
            {
                ["edge"] = new JsonObject
                {
                    ["host"] = "localhost",
                    ["protocol"] = "ws",
                    ["pathname"] = path,
                    ["description"] = "Offer the subprotocol edgebridge.v1.",
                },
            },
            ["channels"] = new JsonObject
            {
                [Channel] = new JsonObject
                {
                    ["address"] = path,
                    ["title"] = "edgebridge.v1",
                    ["messages"] = channelMessages,
                },
            },
            ["operations"] = operations,
            ["components"] = new JsonObject { ["schemas"] = components, ["messages"] = messages },
        };
    }

    private static JsonObject Id() => new() { ["id"] = new JsonObject { ["type"] = "string" } };

    private static JsonObject Frame(string type, JsonObject properties, params string[] required)
    {
        properties["type"] = new JsonObject { ["const"] = type };
        return new JsonObject
        {
            ["type"] = "object",
            ["properties"] = properties,
            ["required"] = new JsonArray([.. required.Prepend("type").Select(r => (JsonNode)JsonValue.Create(r)!)]),
        };
    }

    private static string Policy(StreamPolicy policy) =>
        $"\n\nDelivery: {(policy.Shared ? "identical subscriptions share one upstream call" : "one upstream call per subscription")}; " +
        $"queue of {policy.QueueLimit} messages; a slow subscriber {(policy.DropOldest ? "loses its oldest messages (reported as 'dropped')" : "is ended with RESOURCE_EXHAUSTED")}.";
}
