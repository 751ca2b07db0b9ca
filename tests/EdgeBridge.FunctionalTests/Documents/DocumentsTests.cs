using System.Net;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using EdgeBridge.Contracts;
using EdgeBridge.Documents;
using EdgeBridge.FunctionalTests.Common;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using Microsoft.Extensions.Options;

namespace EdgeBridge.FunctionalTests.Documents;

/// <summary>
/// The OpenAPI and AsyncAPI documents: valid for real validators, true to the wire (every operation and channel is
/// exercised against the real stack and its answer validated against the documented schema), and following the
/// contract with no code written.
/// </summary>
public sealed class DocumentsTests(StackFixture stack) : IClassFixture<StackFixture>
{
    private static readonly string s_validator = Path.Combine(Repository.Root, "clients", "tools", "validate-documents.mjs");

    [Fact]
    public async Task Documents_PassOpenApiAndAsyncApiValidators()
    {
        var (openApi, asyncApi) = await FetchAsync();

        var (exitCode, output) = await ValidateAsync(openApi, asyncApi, samples: null);

        Assert.True(exitCode == 0, output);
    }

    [Fact]
    public async Task Documents_CarryProtoCommentsPoliciesAndSecurity()
    {
        var (openApi, asyncApi) = await FetchAsync();

        var placeOrder = openApi["paths"]!["/v1/accounts/{account_id}/orders"]!["post"]!;
        Assert.StartsWith("Places an order.", (string)placeOrder["description"]!);
        Assert.NotNull(placeOrder["security"]);
        Assert.Null(openApi["paths"]!["/v1/quotes/{symbol}"]!["get"]!["security"]);
        var quote = openApi["components"]!["schemas"]!["trading.v1.Quote"]!;
        Assert.Equal("string", (string)quote["properties"]!["sequence"]!["type"]!);
        Assert.Equal("date-time", (string)FindRef(openApi, quote["properties"]!["time"]!)!["format"]!);
        var policy = asyncApi["operations"]!["trading.v1.MarketDataService.StreamQuotes"]!["x-edgebridge-policy"]!;
        Assert.Equal("shared", (string)policy["sharing"]!);
        Assert.Equal("drop-oldest", (string)policy["slowConsumer"]!);
        Assert.Equal(64, (int)policy["queueLimit"]!);
        Assert.Null(policy["resume"]);
        var resume = asyncApi["operations"]!["trading.v1.TradingService.StreamOrderUpdates"]!["x-edgebridge-policy"]!["resume"]!;
        Assert.Equal("after_sequence", (string)resume["requestField"]!);
        Assert.Equal("update.sequence", (string)resume["responseField"]!);
    }

    [Fact]
    public async Task OpenApi_EveryStreamOfTheSocketIsAnHttpStreamToo_ThatAnswersAsDocumented()
    {
        var (openApi, asyncApi) = await FetchAsync();
        // Server streams only: a stream that also takes the client's messages needs the socket.
        var streams = asyncApi["operations"]!.AsObject().Where(o => (string?)o.Value!["x-edgebridge-policy"]?["kind"] == "server").Select(o => (string)o.Value!["title"]!).ToList();
        Assert.Contains("chat.v1.ChatService/Converse", asyncApi["operations"]!.AsObject().Select(o => (string?)o.Value!["title"]));
        var paths = openApi["paths"]!.AsObject().Where(p => p.Key.StartsWith("/stream/", StringComparison.Ordinal)).ToDictionary(p => p.Key["/stream/".Length..], p => p.Value!);

        Assert.Equal(streams.Order(StringComparer.Ordinal), paths.Keys.Order(StringComparer.Ordinal));
        foreach (var (method, item) in paths)
        {
            Assert.Equal(["text/event-stream", "application/x-ndjson"], item["get"]!["responses"]!["200"]!["content"]!.AsObject().Select(c => c.Key));
            Assert.NotNull(item["post"]!["requestBody"]);
        }

        // An open stream answers as documented: a public one without a token, event-stream by default.
        using var response = await stack.Rest.GetAsync("/stream/trading.v1.MarketDataService/StreamQuotes?request=%7B%22symbols%22%3A%5B%22ACME%22%5D%7D", HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType!.MediaType);
    }

    /// <summary>
    /// Every method the edge serves over Connect is in the document, with GET where it is side-effect-free; each
    /// answers through the edge as documented, its answer (and an error) matching the document's schemas.
    /// </summary>
    [Fact]
    public async Task OpenApi_EveryConnectOperationAnswersThroughTheEdge_AndMatchesItsSchema()
    {
        var (openApi, asyncApi) = await FetchAsync();
        var alice = await stack.LoginAsync();
        var resting = (await stack.SendAsync(HttpMethod.Post, "/v1/accounts/acc-alice/orders", alice,
            new { symbol = "ACME", side = "ORDER_SIDE_BUY", quantity = "1", type = "ORDER_TYPE_LIMIT", limitPrice = 0.01 })).Json.GetProperty("order").GetProperty("orderId").GetString();
        var (_, bob) = await stack.SendAsync(HttpMethod.Post, "/v1/auth/login", body: new { username = "bob", password = "builder" });
        var unary = new Dictionary<string, (string Method, string Json, Session? Caller)>
        {
            ["AuthService_Login_Connect"] = ("trading.v1.AuthService/Login", """{"username":"bob","password":"builder"}""", null),
            ["AuthService_Refresh_Connect"] = ("trading.v1.AuthService/Refresh", $$"""{"refreshToken":"{{bob.GetProperty("refreshToken").GetString()}}"}""", null),
            ["MarketDataService_GetQuote_Connect"] = ("trading.v1.MarketDataService/GetQuote", """{"symbol":"ACME"}""", null),
            ["MarketDataService_ListSymbols_Connect"] = ("trading.v1.MarketDataService/ListSymbols", "{}", null),
            ["TradingService_GetPortfolio_Connect"] = ("trading.v1.TradingService/GetPortfolio", """{"accountId":"acc-alice"}""", alice),
            ["TradingService_PlaceOrder_Connect"] = ("trading.v1.TradingService/PlaceOrder", """{"accountId":"acc-alice","symbol":"INIT","side":"ORDER_SIDE_BUY","quantity":"1"}""", alice),
            ["TradingService_GetOrder_Connect"] = ("trading.v1.TradingService/GetOrder", $$"""{"accountId":"acc-alice","orderId":"{{resting}}"}""", alice),
            ["TradingService_CancelOrder_Connect"] = ("trading.v1.TradingService/CancelOrder", $$"""{"accountId":"acc-alice","orderId":"{{resting}}"}""", alice),
            ["ChatService_PostMessage_Connect"] = ("chat.v1.ChatService/PostMessage", """{"room":"docs","text":"over Connect"}""", alice),
            ["ChatService_ListMessages_Connect"] = ("chat.v1.ChatService/ListMessages", """{"room":"docs","pageSize":10}""", null),
        };
        var documented = openApi["paths"]!.AsObject().SelectMany(p => p.Value!.AsObject().Select(o => (Path: p.Key, Verb: o.Key, Id: (string)o.Value!["operationId"]!)))
            .Where(o => o.Id.Contains("_Connect", StringComparison.Ordinal)).ToList();

        Assert.Equal(unary.Keys.Order(StringComparer.Ordinal), documented.Where(o => o.Id.EndsWith("_Connect", StringComparison.Ordinal) && !o.Id.Contains("Stream", StringComparison.Ordinal)).Select(o => o.Id).Order(StringComparer.Ordinal));
        Assert.Equal(["ChatService_ListMessages_ConnectGet", "MarketDataService_GetQuote_ConnectGet", "MarketDataService_ListSymbols_ConnectGet", "TradingService_GetOrder_ConnectGet", "TradingService_GetPortfolio_ConnectGet"],
            documented.Where(o => o.Verb == "get").Select(o => o.Id).Order(StringComparer.Ordinal));
        Assert.Equal(["/chat.v1.ChatService/StreamRoom", "/trading.v1.MarketDataService/StreamQuotes", "/trading.v1.TradingService/StreamOrderUpdates"],
            documented.Where(o => o.Id.Contains("Stream", StringComparison.Ordinal)).Select(o => o.Path).Order(StringComparer.Ordinal));

        var samples = new JsonArray();
        foreach (var (operation, (method, json, caller)) in unary.OrderBy(u => u.Key, StringComparer.Ordinal))
        {
            Assert.Contains(documented, o => o.Id == operation && o.Path == "/" + method && o.Verb == "post");
            using var request = new HttpRequestMessage(HttpMethod.Post, "/" + method) { Content = new StringContent(json, System.Text.Encoding.UTF8, "application/json") };
            if (caller is not null)
            {
                request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", caller.Token);
            }

            using var response = await stack.Rest.SendAsync(request);
            var body = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"{operation} answered {response.StatusCode}: {body}");
            samples.Add(new JsonObject { ["openapi"] = operation, ["status"] = "200", ["body"] = JsonNode.Parse(body) });
        }

        using var notFound = await stack.Rest.PostAsync("/trading.v1.MarketDataService/GetQuote", new StringContent("""{"symbol":"NOPE"}""", System.Text.Encoding.UTF8, "application/json"));
        samples.Add(new JsonObject { ["openapi"] = "MarketDataService_GetQuote_Connect", ["status"] = "default", ["body"] = JsonNode.Parse(await notFound.Content.ReadAsStringAsync()) });

        var (exitCode, output) = await ValidateAsync(openApi, asyncApi, samples);
        Assert.True(exitCode == 0, output);
    }

    /// <summary>Sample requests for every REST operation; a new operation fails this test until it has one.</summary>
    [Fact]
    public async Task OpenApi_EveryOperationAnswersThroughTheEdge_AndMatchesItsSchema()
    {
        var (openApi, asyncApi) = await FetchAsync();
        var alice = await stack.LoginAsync();
        var resting = (await stack.SendAsync(HttpMethod.Post, "/v1/accounts/acc-alice/orders", alice,
            new { symbol = "ACME", side = "ORDER_SIDE_BUY", quantity = "1", type = "ORDER_TYPE_LIMIT", limitPrice = 0.01 })).Json.GetProperty("order").GetProperty("orderId").GetString();
        var requests = new Dictionary<string, Func<Task<(HttpResponseMessage, JsonElement)>>>
        {
            ["AuthService_Login"] = () => stack.SendAsync(HttpMethod.Post, "/v1/auth/login", body: new { username = "bob", password = "builder" }),
            ["AuthService_Refresh"] = async () =>
            {
                var (_, login) = await stack.SendAsync(HttpMethod.Post, "/v1/auth/login", body: new { username = "bob", password = "builder" });
                return await stack.SendAsync(HttpMethod.Post, "/v1/auth/refresh", body: new { refreshToken = login.GetProperty("refreshToken").GetString() });
            },
            ["MarketDataService_GetQuote"] = () => stack.SendAsync(HttpMethod.Get, "/v1/quotes/ACME"),
            ["MarketDataService_ListSymbols"] = () => stack.SendAsync(HttpMethod.Get, "/v1/symbols"),
            ["TradingService_GetPortfolio"] = () => stack.SendAsync(HttpMethod.Get, "/v1/accounts/acc-alice/portfolio", alice),
            ["TradingService_PlaceOrder"] = () => stack.SendAsync(HttpMethod.Post, "/v1/accounts/acc-alice/orders", alice, new { symbol = "INIT", side = "ORDER_SIDE_BUY", quantity = "1" }),
            ["TradingService_GetOrder"] = () => stack.SendAsync(HttpMethod.Get, $"/v1/accounts/acc-alice/orders/{resting}", alice),
            ["TradingService_CancelOrder"] = () => stack.SendAsync(HttpMethod.Post, $"/v1/accounts/acc-alice/orders/{resting}:cancel", alice),
            ["ChatService_PostMessage"] = () => stack.SendAsync(HttpMethod.Post, "/v1/rooms/docs/messages", alice, new { text = "documented" }),
            ["ChatService_ListMessages"] = () => stack.SendAsync(HttpMethod.Get, "/v1/rooms/docs/messages?pageSize=10"),
        };
        var operations = openApi["paths"]!.AsObject().Where(p => !p.Key.StartsWith("/stream/", StringComparison.Ordinal))
            .SelectMany(p => p.Value!.AsObject().Select(o => (string)o.Value!["operationId"]!))
            .Where(id => !id.Contains("_Connect", StringComparison.Ordinal)).ToList();
        Assert.Equal(requests.Keys.Order(StringComparer.Ordinal), operations.Order(StringComparer.Ordinal));

        var samples = new JsonArray();
        foreach (var operation in operations.Order(StringComparer.Ordinal))
        {
            var (response, json) = await requests[operation]();
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"{operation} answered {response.StatusCode}: {json}");
            samples.Add(new JsonObject { ["openapi"] = operation, ["status"] = "200", ["body"] = JsonNode.Parse(json.GetRawText()) });
        }

        // An error body must match the documented google.rpc.Status too.
        var (_, error) = await stack.SendAsync(HttpMethod.Get, "/v1/quotes/NOPE");
        samples.Add(new JsonObject { ["openapi"] = "MarketDataService_GetQuote", ["status"] = "default", ["body"] = JsonNode.Parse(error.GetRawText()) });

        var (exitCode, output) = await ValidateAsync(openApi, asyncApi, samples);
        Assert.True(exitCode == 0, output);
    }

    [Fact]
    public async Task AsyncApi_EveryStreamingOperationSubscribes_AndItsFirstMessageMatchesItsSchema()
    {
        var (openApi, asyncApi) = await FetchAsync();
        var alice = await stack.LoginAsync();
        await stack.SendAsync(HttpMethod.Post, "/v1/rooms/asyncapi/messages", alice, new { text = "first" });
        await stack.SendAsync(HttpMethod.Post, "/v1/accounts/acc-alice/orders", alice, new { symbol = "PIED", side = "ORDER_SIDE_BUY", quantity = "1" });
        var requests = new Dictionary<string, object>
        {
            ["chat.v1.ChatService.StreamRoom"] = new { room = "asyncapi" },
            ["trading.v1.MarketDataService.StreamQuotes"] = new { symbols = new[] { "ACME" } },
            ["trading.v1.TradingService.StreamOrderUpdates"] = new { accountId = "acc-alice" },
        };
        var streaming = asyncApi["operations"]!.AsObject().Where(o => (string?)o.Value!["x-edgebridge-policy"]?["kind"] == "server").ToList();
        Assert.Equal(requests.Keys.Order(StringComparer.Ordinal), streaming.Select(o => o.Key).Order(StringComparer.Ordinal));

        // Bidirectional streams: a subscribe without request, then send frames; the replies match the schema too.
        var sending = asyncApi["operations"]!.AsObject().Where(o => (string?)o.Value!["x-edgebridge-policy"]?["kind"] == "bidirectional").ToList();
        Assert.Equal(["chat.v1.ChatService.Converse"], sending.Select(o => o.Key));

        var samples = new JsonArray();
        var (socket, ack) = await EdgeSocket.OpenAsync(stack.Edge, alice.Token);
        await using var __ = socket;
        samples.Add(new JsonObject { ["asyncapi"] = "ack", ["frame"] = JsonNode.Parse(ack.GetRawText()) });
        foreach (var (key, value) in streaming)
        {
            var method = (string)value!["title"]!;
            var subscribe = new { type = "subscribe", id = key, method, request = requests[key] };
            samples.Add(new JsonObject { ["asyncapi"] = key + ".subscribe", ["frame"] = JsonNode.Parse(JsonSerializer.Serialize(subscribe)) });
            await socket.SendAsync(subscribe);
            var (next, _) = await socket.ReceiveUntilAsync(f => f.Type() == "next" && f.Id() == key);
            samples.Add(new JsonObject { ["asyncapi"] = key + ".next", ["frame"] = JsonNode.Parse(next.GetRawText()) });
        }

        var converse = new { type = "subscribe", id = "chat.v1.ChatService.Converse", method = "chat.v1.ChatService/Converse" };
        var join = new { type = "send", id = converse.id, message = new { join = new { room = "asyncapi" } } };
        var end = new { type = "end", id = converse.id };
        samples.Add(new JsonObject { ["asyncapi"] = converse.id + ".subscribe", ["frame"] = JsonNode.Parse(JsonSerializer.Serialize(converse)) });
        samples.Add(new JsonObject { ["asyncapi"] = converse.id + ".send", ["frame"] = JsonNode.Parse(JsonSerializer.Serialize(join)) });
        samples.Add(new JsonObject { ["asyncapi"] = "end", ["frame"] = JsonNode.Parse(JsonSerializer.Serialize(end)) });
        await socket.SendAsync(converse);
        await socket.SendAsync(join);
        var (reply, _) = await socket.ReceiveUntilAsync(f => f.Type() == "next" && f.Id() == converse.id);
        samples.Add(new JsonObject { ["asyncapi"] = converse.id + ".next", ["frame"] = JsonNode.Parse(reply.GetRawText()) });
        await socket.SendAsync(end);
        await socket.ReceiveUntilAsync(f => f.Type() == "complete" && f.Id() == converse.id);

        // Calls on the socket: each documented call answers with a result that matches its schema.
        var callRequests = new Dictionary<string, object>
        {
            ["trading.v1.MarketDataService.GetQuote.call"] = new { symbol = "ACME" },
            ["trading.v1.TradingService.PlaceOrder.call"] = new { accountId = "acc-alice", symbol = "PIED", side = "ORDER_SIDE_BUY", quantity = "1" },
        };
        var calls = asyncApi["operations"]!.AsObject().Where(o => o.Key.EndsWith(".call", StringComparison.Ordinal)).ToList();
        Assert.Equal(callRequests.Keys.Order(StringComparer.Ordinal), calls.Select(o => o.Key).Order(StringComparer.Ordinal));
        foreach (var (key, value) in calls)
        {
            var call = new { type = "call", id = key, method = (string)value!["title"]!, request = callRequests[key] };
            samples.Add(new JsonObject { ["asyncapi"] = key, ["frame"] = JsonNode.Parse(JsonSerializer.Serialize(call)) });
            await socket.SendAsync(call);
            var (result, _) = await socket.ReceiveUntilAsync(f => f.Type() == "result" && f.Id() == key);
            samples.Add(new JsonObject { ["asyncapi"] = key[..^".call".Length] + ".result", ["frame"] = JsonNode.Parse(result.GetRawText()) });
        }

        await socket.SendAsync(new { type = "subscribe", id = "bad", method = "trading.v1.MarketDataService/StreamQuotes", request = new { symbols = new[] { "NOPE" } } });
        var (error, _) = await socket.ReceiveUntilAsync(f => f.Type() == "error");
        samples.Add(new JsonObject { ["asyncapi"] = "error", ["frame"] = JsonNode.Parse(error.GetRawText()) });

        var (exitCode, output) = await ValidateAsync(openApi, asyncApi, samples);
        Assert.True(exitCode == 0, output);
    }

    [Fact]
    public async Task NewAnnotatedMethods_InACompiledProto_AppearInBothDocuments_WithNoCode()
    {
        // A developer adds a REST route and a streaming method to the contract and compiles it.
        var scratch = Path.Combine(Path.GetTempPath(), "edgebridge-contract-" + Guid.NewGuid().ToString("N"));
        try
        {
            CopyDirectory(Path.Combine(Repository.Root, "protos"), scratch);
            var chat = Path.Combine(scratch, "chat", "v1", "chat.proto");
            var proto = await File.ReadAllTextAsync(chat);
            proto = proto.Replace("service ChatService {", """
                service ChatService {
                  // Lists the rooms that have messages.
                  rpc ListRooms(ListRoomsRequest) returns (ListRoomsResponse) {
                    option (google.api.http) = {get: "/v1/rooms"};
                  }

                  // Streams who is typing in a room.
                  rpc StreamTyping(StreamTypingRequest) returns (stream StreamTypingResponse) {
                    option (edgebridge.v1.stream) = {sharing: SHARING_SHARED};
                  }

                """, StringComparison.Ordinal) + """

                // Asks for the rooms.
                message ListRoomsRequest {}

                // The rooms.
                message ListRoomsResponse {
                  // Room names.
                  repeated string rooms = 1;
                }

                // Asks who is typing.
                message StreamTypingRequest {
                  // The room.
                  string room = 1;
                }

                // Someone is typing.
                message StreamTypingResponse {
                  // The user.
                  string author = 1;
                }
                """;
            await File.WriteAllTextAsync(chat, proto);
            var set = Path.Combine(scratch, "contract.binpb");
            var (exitCode, output) = await Repository.RunAsync(Repository.Protoc, "--include_imports", "--include_source_info", "--descriptor_set_out=" + set,
                "-I", scratch, "-I", Repository.GoogleProtos, "-I", Repository.StandardProtos, chat);
            Assert.True(exitCode == 0, output);

            // The edge library builds the documents from the compiled descriptors alone.
            var files = FileDescriptor.BuildFromByteStrings(
                FileDescriptorSet.Parser.ParseFrom(await File.ReadAllBytesAsync(set)).File.Select(f => f.ToByteString()),
                new ExtensionRegistry { EdgeBridge.Contracts.V1.OptionsExtensions.Stream, EdgeBridge.Contracts.V1.OptionsExtensions.Access, Google.Api.AnnotationsExtensions.Http });
            var contract = files.Single(f => f.Name == "chat/v1/chat.proto");
            var contracts = new ContractOptions();
            contracts.Files.Add(contract);
            var catalog = new ContractCatalog(Options.Create(contracts), Options.Create(new EdgeBridgeOptions()));
            var openApi = OpenApiWriter.Write([contract], "test", "v1");
            var asyncApi = AsyncApiWriter.Write(catalog.Methods, [contract], "test", "v1", "/ws");

            Assert.Equal("ChatService_ListRooms", (string)openApi["paths"]!["/v1/rooms"]!["get"]!["operationId"]!);
            Assert.Equal("Lists the rooms that have messages.", (string)openApi["paths"]!["/v1/rooms"]!["get"]!["summary"]!);
            Assert.True(catalog.TryGet("chat.v1.ChatService/StreamTyping", out _));
            var typing = asyncApi["operations"]!["chat.v1.ChatService.StreamTyping"]!;
            Assert.Equal("shared", (string)typing["x-edgebridge-policy"]!["sharing"]!);
            Assert.NotNull(asyncApi["components"]!["schemas"]!["chat.v1.StreamTypingResponse"]);
        }
        finally
        {
            Directory.Delete(scratch, recursive: true);
        }
    }

    private async Task<(JsonNode OpenApi, JsonNode AsyncApi)> FetchAsync()
    {
        var openApi = JsonNode.Parse(await stack.Rest.GetStringAsync("/openapi/v1.json"))!;
        var asyncApi = JsonNode.Parse(await stack.Rest.GetStringAsync("/asyncapi/v1.json"))!;
        return (openApi, asyncApi);
    }

    private static async Task<(int ExitCode, string Output)> ValidateAsync(JsonNode openApi, JsonNode asyncApi, JsonArray? samples)
    {
        var scratch = Path.Combine(Path.GetTempPath(), "edgebridge-docs-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(scratch);
        try
        {
            var files = new List<string> { Path.Combine(scratch, "openapi.json"), Path.Combine(scratch, "asyncapi.json") };
            await File.WriteAllTextAsync(files[0], openApi.ToJsonString());
            await File.WriteAllTextAsync(files[1], asyncApi.ToJsonString());
            if (samples is not null)
            {
                files.Add(Path.Combine(scratch, "samples.json"));
                await File.WriteAllTextAsync(files[2], samples.ToJsonString());
            }

            return await Repository.RunAsync("node", [s_validator, .. files]);
        }
        finally
        {
            Directory.Delete(scratch, recursive: true);
        }
    }

    private static JsonNode? FindRef(JsonNode document, JsonNode schema)
    {
        var reference = (string?)schema["$ref"] ?? (string?)schema["allOf"]?[0]?["$ref"];
        return reference is null ? schema : document["components"]!["schemas"]![reference["#/components/schemas/".Length..]];
    }

    private static void CopyDirectory(string source, string target)
    {
        foreach (var file in Directory.EnumerateFiles(source, "*.proto", SearchOption.AllDirectories))
        {
            var destination = Path.Combine(target, Path.GetRelativePath(source, file));
            Directory.CreateDirectory(Path.GetDirectoryName(destination)!);
            File.Copy(file, destination);
        }
    }
}
