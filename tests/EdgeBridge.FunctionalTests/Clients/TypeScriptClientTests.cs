using EdgeBridge.FunctionalTests.Common;

namespace EdgeBridge.FunctionalTests.Clients;

/// <summary>The TypeScript client's own tests (node's test runner), the end-to-end ones against this real stack.</summary>
public sealed class TypeScriptClientTests(StackFixture stack) : IClassFixture<StackFixture>
{
    private static string Clients => Path.Combine(Repository.Root, "clients");

    [Fact]
    public async Task UnitSpecs_Pass()
    {
        var (exitCode, output) = await Repository.RunInAsync(Clients, "bash", "-c", "node --test --test-timeout=120000 --test-reporter=spec dist/src/*.spec.js");

        Assert.True(exitCode == 0, output);
        Assert.Contains("fail 0", output);
    }

    [Fact]
    public async Task AgainstRealStack_LoginTradeAndSubscribe_Pass()
    {
        var (exitCode, output) = await Repository.RunInAsync(Clients, "env", $"EDGEBRIDGE_URL={stack.Edge.HttpAddress}",
            "node", "--test", "--test-reporter=spec", "dist/src/stack.e2e.js");

        Assert.True(exitCode == 0, output);
        Assert.Contains("fail 0", output);
    }

    /// <summary>connect-es, unchanged, over the Connect protocol (JSON, binary, GET) and gRPC-Web, against this stack.</summary>
    [Fact]
    public async Task ConnectEs_AgainstRealStack_Pass()
    {
        var (exitCode, output) = await Repository.RunInAsync(Clients, "env", $"EDGEBRIDGE_URL={stack.Edge.HttpAddress}",
            "node", "--test", "--test-reporter=spec", "dist/src/connect.e2e.js");

        Assert.True(exitCode == 0, output);
        Assert.Contains("fail 0", output);
    }

    /// <summary>The library's descriptors (clients/src/gen) and the sample's code (clients/sample/gen) are what their templates generate now.</summary>
    [Theory]
    [InlineData("clients/buf.gen.yaml", "clients/src/gen")]
    [InlineData("buf.gen.yaml", "clients/sample/gen")]
    public async Task GeneratedCode_IsCurrent(string templatePath, string outPath)
    {
        var scratch = Path.Combine(Path.GetTempPath(), "edgebridge-gen-" + Guid.NewGuid().ToString("N"));
        var template = Path.Combine(scratch, "buf.gen.yaml");
        Directory.CreateDirectory(scratch);
        try
        {
            var config = await File.ReadAllTextAsync(Path.Combine(Repository.Root, templatePath));
            Assert.Contains("out: " + outPath, config);
            await File.WriteAllTextAsync(template, config.Replace("out: " + outPath, "out: " + Path.Combine(scratch, "gen"), StringComparison.Ordinal));

            var (exitCode, output) = await Repository.RunAsync(Repository.Buf, "generate", "--template", template);
            Assert.True(exitCode == 0, output);

            var (diffCode, diff) = await Repository.RunAsync("diff", "-r", Path.Combine(scratch, "gen"), Path.Combine(Repository.Root, outPath));
            Assert.True(diffCode == 0, $"{outPath} is stale; run 'npm run generate' in clients/:\n" + diff);
        }
        finally
        {
            Directory.Delete(scratch, recursive: true);
        }
    }

    /// <summary>
    /// What a new user does: `npm pack` the client, install the tarball into an empty project, generate JavaScript for
    /// the contract with buf (as the README says), and call the running stack over REST and the WebSocket.
    /// </summary>
    [Fact]
    public async Task PackedPackage_InstallsIntoAnEmptyProject_AndWorksAgainstTheStack()
    {
        var project = Directory.CreateTempSubdirectory("edgebridge-npm-").FullName;
        try
        {
            var (packCode, packed) = await Repository.RunInAsync(Clients, "npm", "pack", "--pack-destination", project, "--silent");
            Assert.True(packCode == 0, packed);
            var tarball = Path.Combine(project, packed.Trim().Split('\n')[^1].Trim());
            Assert.True(File.Exists(tarball), packed);

            await File.WriteAllTextAsync(Path.Combine(project, "package.json"), """{ "name": "empty", "private": true, "type": "module" }""");
            // ws: Node 20 has no global WebSocket. Both come from the npm cache `./build.sh test` filled.
            var (installCode, installed) = await Repository.RunInAsync(project, "npm", "install", "--prefer-offline", "--no-audit", "--no-fund", "--loglevel=error",
                tarball, "ws@8.23.0", "@bufbuild/protobuf@2.17.0", "@bufbuild/protoc-gen-es@2.17.0");
            Assert.True(installCode == 0, installed);

            // The user's own code from the contract: JavaScript this time, no TypeScript compiler needed.
            var template = Path.Combine(project, "buf.gen.yaml");
            await File.WriteAllTextAsync(template, $"""
                version: v2
                inputs:
                  - directory: {Path.Combine(Repository.Root, "protos")}
                plugins:
                  - local: {Path.Combine(project, "node_modules", ".bin", "protoc-gen-es")}
                    out: {Path.Combine(project, "gen")}
                    include_imports: true
                    opt: [target=js, import_extension=js]
                  - local: {Path.Combine(project, "node_modules", ".bin", "protoc-gen-edgebridge")}
                    out: {Path.Combine(project, "gen")}
                    opt: [target=js, import_extension=js]
                """);
            var (generateCode, generated) = await Repository.RunInAsync(Repository.Root, Repository.Buf, "generate", "--template", template);
            Assert.True(generateCode == 0, generated);

            await File.WriteAllTextAsync(Path.Combine(project, "main.mjs"), """
                import { createEdgeClient, createServiceClient, webSocketFromWs, EdgeError } from "@edgebridge/client";
                import { WebSocket } from "ws";
                import { AuthService } from "./gen/trading/v1/auth_pb.js";
                import { MarketDataService } from "./gen/trading/v1/market_data_pb.js";
                import { TradingServiceEdge } from "./gen/trading/v1/trading_edge.js";

                const client = createEdgeClient({ baseUrl: process.env.EDGEBRIDGE_URL, webSocket: webSocketFromWs(WebSocket) });
                const login = await client.call(AuthService.method.login, { username: "alice", password: "wonderland" });
                client.setToken(login.accessToken);
                const trading = createServiceClient(TradingServiceEdge, client);
                const portfolio = await trading.getPortfolio({ accountId: login.accountId });
                for await (const message of client.stream(MarketDataService.method.streamQuotes, { symbols: ["ACME"] })) {
                  console.log(`quote ${message.quote.symbol} ${message.quote.price} cash ${portfolio.portfolio.cash}`);
                  break;
                }
                try {
                  await client.call(MarketDataService.method.getQuote, { symbol: "NOPE" });
                } catch (error) {
                  console.log(`error ${error instanceof EdgeError} ${error.code}`);
                }
                client.close();
                """);
            var (runCode, output) = await Repository.RunInAsync(project, "env", $"EDGEBRIDGE_URL={stack.Edge.HttpAddress}", "node", "main.mjs");

            Assert.True(runCode == 0, output);
            Assert.Matches(@"quote ACME \d+(\.\d+)? cash \d+", output);
            Assert.Contains("error true 5", output);

            // Only the generic API is the package's: its internals and the sample's generated code are not importable.
            var (deepCode, deep) = await Repository.RunInAsync(project, "node", "-e", "import('@edgebridge/client/dist/src/socket.js').then(() => process.exit(0), e => { console.log(e.code); process.exit(3); })");
            Assert.True(deepCode == 3, deep);
            Assert.Contains("ERR_PACKAGE_PATH_NOT_EXPORTED", deep);
        }
        finally
        {
            Directory.Delete(project, recursive: true);
        }
    }
}
