using System.Net;
using System.Text;
using System.Text.Json;
using EdgeBridge.FunctionalTests.AnyBackend;
using EdgeBridge.FunctionalTests.Common;
using EdgeBridge.FunctionalTests.Http;
using EdgeBridge.Streams;

namespace EdgeBridge.FunctionalTests.Contracts;

/// <summary>
/// The contracts reloaded while the edge runs, in front of the Node.js backend (AnyBackend/server.cjs): the descriptor
/// set and the API configuration are rewritten on disk as a build would, and the edge follows without a restart —
/// new methods answer, running subscriptions of unchanged methods keep flowing, those of methods that went away or
/// changed end with a status that says so (over the socket and as server-sent events), and files that do not load
/// are refused while the previous contracts stay.
/// </summary>
public sealed class ContractReloadTests() : NodeEdgeTest("reload")
{
    private const string Watch = "prices.v1.PriceService/WatchPrices";
    private const string AdminKey = "reload-operator-key";
    private const string SetPriceRpc = "  rpc SetPrice(SetPriceRequest) returns (Price);\n";
    private const string SetPriceRule = "    - selector: prices.v1.PriceService.SetPrice\n      put: /api/prices/{symbol}\n      body: \"*\"\n";

    private readonly string _here = NodeBackend.Folder;

    private string DescriptorSet => Path.Combine(Scratch, "prices.binpb");

    private string ApiConfig => Path.Combine(Scratch, "prices.yaml");

    // The backend's proto as the edge's build would have it: the stream exposed by its own option, so that removing
    // the method from the proto removes it from the contracts (an Expose entry would outlive it and be refused).
    private string FullProto => File.ReadAllText(Path.Combine(_here, "prices.proto")).ReplaceLineEndings("\n")
        .Replace("package prices.v1;\n", "package prices.v1;\n\nimport \"edgebridge/v1/options.proto\";\n", StringComparison.Ordinal)
        .Replace("returns (stream Price);", "returns (stream Price) {\n    option (edgebridge.v1.stream) = { sharing: SHARING_SHARED auth: AUTH_NONE };\n  }", StringComparison.Ordinal);

    private string FullConfig => File.ReadAllText(Path.Combine(_here, "prices.yaml")).ReplaceLineEndings("\n");

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        Directory.CreateDirectory(Path.Combine(Scratch, "src"));
        Node = await NodeBackend.StartAsync();

        // The edits below cut these out of the files: they must be there to cut.
        Assert.Contains(SetPriceRpc, FullProto, StringComparison.Ordinal);
        Assert.Contains(SetPriceRule, FullConfig, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ANewMethod_AnswersOnceItsFilesAreWritten_WhileARunningSubscriptionKeepsFlowing()
    {
        await using var socket = await StartWatchingAsync(
            FullProto.Replace(SetPriceRpc, "", StringComparison.Ordinal), FullConfig.Replace(SetPriceRule, "", StringComparison.Ordinal));
        using var before = await PutPriceAsync("ACME", 102.25);

        // A build writes the descriptor set, then the configuration that routes the new method.
        await WriteDescriptorSetAsync(FullProto);
        WriteApiConfig(FullConfig);
        await Wait.UntilAsync(async () =>
        {
            using var document = JsonDocument.Parse(await Rest.GetStringAsync("/openapi/v1.json"));
            return document.RootElement.GetProperty("paths").TryGetProperty("/api/prices/{symbol}", out var path) && path.TryGetProperty("put", out _);
        }, "the OpenAPI document lists PUT /api/prices/{symbol}");
        using var after = await PutPriceAsync("ACME", 103.5);
        var (update, meanwhile) = await socket.ReceiveUntilAsync(f => f.Id() == "p" && f.Type() is "next" or "error" or "complete"
            && (f.Type() != "next" || f.GetProperty("message").GetProperty("price").GetDouble() == 103.5));
        var (_, state) = await AdminAsync(HttpMethod.Get, "/admin/contracts");

        Assert.Equal(HttpStatusCode.NotFound, before.StatusCode);
        Assert.Equal(HttpStatusCode.OK, after.StatusCode);
        Assert.Equal("next", update.Type());
        Assert.DoesNotContain(meanwhile, f => f.Type() is "error" or "complete");
        Assert.True(state.GetProperty("generation").GetInt64() >= 2, state.GetRawText());
        Assert.Equal(JsonValueKind.Null, state.GetProperty("lastError").ValueKind);
        Assert.Contains(Watch, state.GetProperty("streams").EnumerateArray().Select(s => s.GetString()));
    }

    [Fact]
    public async Task ARemovedStream_EndsItsSubscriptions_WithUnimplemented_AndItsUpstreamCall()
    {
        await using var socket = await StartWatchingAsync(FullProto, FullConfig);
        await using var events = await EventStream.OpenAsync(Rest, HttpMethod.Get,
            $"/stream/{Watch}?request=" + Uri.EscapeDataString("""{"symbols":["ACME"]}"""));

        // It joins the socket's upstream call, past the backend's first prices: a change reaches both.
        using var changed = await PutPriceAsync("ACME", 101.75);
        await events.NextAsync(e => e.Event == "next");
        var streams = Edge.Services.GetRequiredService<UpstreamStreams>();
        Assert.Equal(1, streams.SharedCount);

        var lines = FullProto.Split('\n');
        var start = Array.FindIndex(lines, l => l.Contains("rpc WatchPrices", StringComparison.Ordinal));
        await WriteDescriptorSetAsync(string.Join('\n', lines.Take(start).Concat(lines.Skip(start + 3))));
        var (ended, _) = await socket.ReceiveUntilAsync(f => f.Id() == "p" && f.Type() is "error" or "complete");
        var sseEnded = await events.NextAsync(e => e.Event is "error" or "complete");
        await socket.SubscribeAsync("q", Watch, new { symbols = new[] { "ACME" } });
        var (refused, _) = await socket.ReceiveUntilAsync(f => f.Id() == "q");
        await Wait.UntilAsync(() => streams.SharedCount == 0, "the upstream call of the withdrawn stream ends");
        using var price = await Rest.GetAsync("/api/prices/ACME");

        Assert.Equal("error", ended.Type());
        Assert.Equal(12, ended.Code());
        Assert.Contains("is no longer part of the edge's contract", ended.GetProperty("status").GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal(("error", 5), (refused.Type(), refused.Code()));
        Assert.Equal("error", sseEnded.Event);
        Assert.Contains("is no longer part of the edge", sseEnded.Data, StringComparison.Ordinal);
        Assert.Contains("\"code\":12", sseEnded.Data, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, price.StatusCode);
    }

    [Fact]
    public async Task AStreamWhoseMessagesChanged_EndsWithAborted_AndASubscribeAgainGetsTheNewContract()
    {
        await using var socket = await StartWatchingAsync(FullProto, FullConfig);

        await WriteDescriptorSetAsync(FullProto.Replace("int64 sequence = 3;", "int64 sequence = 3;\n  // Its currency.\n  string currency = 4;", StringComparison.Ordinal));
        var (ended, _) = await socket.ReceiveUntilAsync(f => f.Id() == "p" && f.Type() is "error" or "complete");
        await socket.SubscribeAsync("p", Watch, new { symbols = new[] { "ACME" } });
        var (again, _) = await socket.ReceiveUntilAsync(f => f.Id() == "p");
        using var asyncApi = JsonDocument.Parse(await Rest.GetStringAsync("/asyncapi/v1.json"));

        Assert.Equal(("error", 10), (ended.Type(), ended.Code()));
        Assert.Contains("changed at the edge: subscribe again", ended.GetProperty("status").GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal("next", again.Type());
        Assert.Equal("ACME", again.GetProperty("message").GetProperty("symbol").GetString());
        Assert.Contains("currency", asyncApi.RootElement.GetRawText(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task AFileThatDoesNotLoad_IsRefused_ThePreviousContractsServe_UntilAGoodOneComes()
    {
        await using var socket = await StartWatchingAsync(FullProto, FullConfig);

        Replace(DescriptorSet, "not a descriptor set"u8.ToArray());
        var refused = await StateWhenAsync(s => s.GetProperty("lastError").ValueKind == JsonValueKind.String, "the watcher refuses the file");
        var (reload, reloadStatus) = await AdminAsync(HttpMethod.Post, "/admin/contracts:reload");
        using var served = await PutPriceAsync("ACME", 104.75);
        var (update, meanwhile) = await socket.ReceiveUntilAsync(f => f.Id() == "p" && f.Type() is "error" or "complete"
            || (f.Type() == "next" && f.GetProperty("message").GetProperty("price").GetDouble() == 104.75));

        // A comment edit: a new generation in force, and every running subscription keeps running.
        await WriteDescriptorSetAsync(FullProto.Replace("// Prices of a few symbols.", "// Prices of a few symbols, live.", StringComparison.Ordinal));
        var good = await StateWhenAsync(s => s.GetProperty("lastError").ValueKind == JsonValueKind.Null, "a good file is loaded");
        var (_, unchanged) = await AdminAsync(HttpMethod.Post, "/admin/contracts:reload");
        using var still = await PutPriceAsync("ACME", 105.25);
        var (later, between) = await socket.ReceiveUntilAsync(f => f.Id() == "p" && f.Type() is "error" or "complete"
            || (f.Type() == "next" && f.GetProperty("message").GetProperty("price").GetDouble() == 105.25));

        Assert.Equal(1, refused.GetProperty("generation").GetInt64());
        Assert.Contains("is not a readable descriptor set", refused.GetProperty("lastError").GetString(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.BadRequest, reload.StatusCode);
        Assert.Equal(9, reloadStatus.GetProperty("code").GetInt32());
        Assert.Equal(HttpStatusCode.OK, served.StatusCode);
        Assert.Equal("next", update.Type());
        Assert.DoesNotContain(meanwhile, f => f.Type() is "error" or "complete");
        Assert.Equal(2, good.GetProperty("generation").GetInt64());
        Assert.Equal("unchanged", unchanged.GetProperty("outcome").GetString());
        Assert.Equal(HttpStatusCode.OK, still.StatusCode);
        Assert.Equal("next", later.Type());
        Assert.DoesNotContain(between, f => f.Type() is "error" or "complete");
        Assert.Contains("Prices of a few symbols, live.", await Rest.GetStringAsync("/openapi/v1.json"), StringComparison.Ordinal);
    }

    // The edge on these files, with one socket watching ACME that has had its first price.
    private async Task<EdgeSocket> StartWatchingAsync(string proto, string config)
    {
        await WriteDescriptorSetAsync(proto);
        WriteApiConfig(config);
        await StartEdgeAsync();
        var (socket, _) = await EdgeSocket.OpenAsync(Edge);
        await socket.SubscribeAsync("p", Watch, new { symbols = new[] { "ACME" } });
        await socket.ReceiveUntilAsync(f => f.Type() == "next");
        return socket;
    }

    private Task StartEdgeAsync() => StartEdgeAsync(Node!.Port, new Dictionary<string, string?>
    {
        ["EdgeBridge:Contracts:DescriptorSets:0"] = DescriptorSet,
        ["EdgeBridge:Contracts:ApiConfigs:0"] = ApiConfig,
        ["EdgeBridge:Admin:ApiKey"] = AdminKey,
    });

    // protoc writes beside the target and the result is renamed over it, as buf and most build tools do: the edge
    // never sees half a file from this side (a half-written one is refused and the next event retries).
    private async Task WriteDescriptorSetAsync(string proto)
    {
        var source = Path.Combine(Scratch, "src", "prices.proto");
        await File.WriteAllTextAsync(source, proto);
        var built = Path.Combine(Scratch, "src", "prices.binpb");
        var (exitCode, output) = await Repository.RunAsync(Repository.Protoc, "--include_imports", "--include_source_info", "--descriptor_set_out=" + built,
            "-I", Path.Combine(Scratch, "src"), "-I", Path.Combine(Repository.Root, "protos"), "-I", Repository.StandardProtos, source);
        Assert.True(exitCode == 0, output);
        Replace(DescriptorSet, await File.ReadAllBytesAsync(built));
    }

    private void WriteApiConfig(string yaml) => Replace(ApiConfig, Encoding.UTF8.GetBytes(yaml));

    private void Replace(string path, byte[] content)
    {
        var next = Path.Combine(Scratch, "src", Path.GetFileName(path) + ".next");
        File.WriteAllBytes(next, content);
        File.Move(next, path, overwrite: true);
    }

    private Task<HttpResponseMessage> PutPriceAsync(string symbol, double price) =>
        Rest.PutAsync($"/api/prices/{symbol}", new StringContent(
            string.Create(System.Globalization.CultureInfo.InvariantCulture, $$"""{"price":{{price}}}"""), Encoding.UTF8, "application/json"));

    private async Task<JsonElement> StateWhenAsync(Func<JsonElement, bool> condition, string what)
    {
        JsonElement state = default;
        await Wait.UntilAsync(async () =>
        {
            (_, state) = await AdminAsync(HttpMethod.Get, "/admin/contracts");
            return condition(state);
        }, what);
        return state;
    }

    private async Task<(HttpResponseMessage Response, JsonElement Body)> AdminAsync(HttpMethod method, string path)
    {
        using var request = new HttpRequestMessage(method, path);
        request.Headers.Add("x-edgebridge-admin-key", AdminKey);
        var response = await Rest.SendAsync(request);
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return (response, body.RootElement.Clone());
    }
}
