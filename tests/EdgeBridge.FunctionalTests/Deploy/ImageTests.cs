using System.Globalization;
using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using EdgeBridge.FunctionalTests.Common;

namespace EdgeBridge.FunctionalTests.Deploy;

/// <summary>The images of the edge and the backend, built once by <c>deploy/images/build.sh</c> into a scratch directory.</summary>
public sealed class BuiltImages : IAsyncLifetime
{
    public string Directory { get; } = System.IO.Directory.CreateTempSubdirectory("edgebridge-images-").FullName;

    public async Task InitializeAsync()
    {
        var (exitCode, output) = await Repository.RunAsync(Path.Combine(Repository.Root, "deploy", "images", "build.sh"), Path.Combine(Directory, "out"));
        Assert.True(exitCode == 0, output);
    }

    public Task DisposeAsync()
    {
        System.IO.Directory.Delete(Directory, recursive: true);
        return Task.CompletedTask;
    }

    /// <summary>The image's OCI layout, unpacked from its tarball once.</summary>
    public OciImage Image(string name)
    {
        var layout = Path.Combine(Directory, name);
        if (!System.IO.Directory.Exists(layout))
        {
            System.Formats.Tar.TarFile.ExtractToDirectory(Path.Combine(Directory, "out", name + ".tar"), System.IO.Directory.CreateDirectory(layout).FullName, overwriteFiles: true);
        }

        return new OciImage(layout);
    }
}

/// <summary>An OCI image layout: its index, its manifest and its configuration.</summary>
public sealed class OciImage(string layout)
{
    public string Layout { get; } = layout;

    public JsonNode Manifest => Blob(JsonNode.Parse(File.ReadAllText(Path.Combine(Layout, "index.json")))!["manifests"]![0]!["digest"]!.GetValue<string>());

    /// <summary>The image configuration's <c>config</c>: entrypoint, user, ports, environment.</summary>
    public JsonNode Config => Blob(Manifest["config"]!["digest"]!.GetValue<string>())["config"]!;

    public string LastLayer => BlobPath(Manifest["layers"]!.AsArray()[^1]!["digest"]!.GetValue<string>());

    private JsonNode Blob(string digest) => JsonNode.Parse(File.ReadAllText(BlobPath(digest)))!;

    private string BlobPath(string digest) => Path.Combine(Layout, "blobs", "sha256", digest["sha256:".Length..]);
}

/// <summary>
/// The images are what a cluster runs: non-root, their ports exposed, the app as the entrypoint — and, unpacked and
/// run as the image says (its user, its environment, its entrypoint, chrooted into its file system), the edge
/// serves in front of the backend.
/// </summary>
public sealed class ImageTests(BuiltImages images) : IClassFixture<BuiltImages>
{
    [Theory]
    [InlineData("edge", "/app/EdgeBridge.Host", new[] { "8080/tcp", "8081/tcp" }, "Kestrel__Endpoints__Http__Url=http://0.0.0.0:8080")]
    [InlineData("backend", "/app/Trading.Backend", new[] { "5080/tcp", "5081/tcp" }, "Kestrel__Endpoints__Rest__Url=http://0.0.0.0:5080")]
    public async Task Image_RunsItsAppAsNonRoot_OnItsExposedPorts(string name, string entrypoint, string[] ports, string listen)
    {
        var image = images.Image(name);
        var config = image.Config;

        Assert.Equal([entrypoint], config["Entrypoint"]!.AsArray().Select(e => e!.GetValue<string>()));
        Assert.Equal("1654", config["User"]!.GetValue<string>());
        Assert.Equal(ports.Order(), config["ExposedPorts"]!.AsObject().Select(p => p.Key).Order());
        Assert.Contains(listen, config["Env"]!.AsArray().Select(e => e!.GetValue<string>()));

        // The entrypoint is in the app's layer, executable.
        await using var layer = new System.IO.Compression.GZipStream(File.OpenRead(image.LastLayer), System.IO.Compression.CompressionMode.Decompress);
        using var tar = new System.Formats.Tar.TarReader(layer);
        System.Formats.Tar.TarEntry? app = null;
        while (await tar.GetNextEntryAsync() is { } entry)
        {
            if (entry.Name.TrimStart('.', '/') == entrypoint.TrimStart('/'))
            {
                app = entry;
            }
        }

        Assert.NotNull(app);
        Assert.True(app.Mode.HasFlag(UnixFileMode.UserExecute | UnixFileMode.OtherExecute), $"{entrypoint} is executable ({app.Mode})");
    }

    [Fact]
    public async Task Images_RunAsTheirUser_TheEdgeServesInFrontOfTheBackend()
    {
        await using var backend = await ImageRun.StartAsync(images, "backend", new Dictionary<string, string>
        {
            ["Kestrel__Endpoints__Rest__Url"] = $"http://127.0.0.1:{ChildProcess.FreePort()}",
            ["Kestrel__Endpoints__Grpc__Url"] = $"http://127.0.0.1:{ChildProcess.FreePort()}",
            ["Backend__Auth__SigningKey"] = BackendServer.SigningKey,
            ["Backend__SeedDemoData"] = "true",
        });
        var edgePort = ChildProcess.FreePort();
        await using var edge = await ImageRun.StartAsync(images, "edge", new Dictionary<string, string>
        {
            ["Kestrel__Endpoints__Http__Url"] = $"http://127.0.0.1:{edgePort}",
            ["Kestrel__Endpoints__Grpc__Url"] = $"http://127.0.0.1:{ChildProcess.FreePort()}",
            ["EdgeBridge__Tokens__SigningKey"] = BackendServer.SigningKey,
            ["ReverseProxy__Clusters__backend-rest__Destinations__backend__Address"] = backend.Environment["Kestrel__Endpoints__Rest__Url"],
            ["ReverseProxy__Clusters__backend-grpc__Destinations__backend__Address"] = backend.Environment["Kestrel__Endpoints__Grpc__Url"],
        });

        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{edgePort}") };
        await edge.Process.WaitUntilAsync(async () =>
        {
            try
            {
                return (await http.GetAsync("/readyz")).StatusCode == HttpStatusCode.OK;
            }
            catch (HttpRequestException)
            {
                return false;
            }
        }, "the edge from its image is ready in front of the backend from its image");
        using var quote = await http.GetAsync("/v1/quotes/ACME");
        Assert.Equal(HttpStatusCode.OK, quote.StatusCode);
        Assert.Equal("1654", edge.Uid());
        Assert.Equal("1654", backend.Uid());
    }
}

/// <summary>
/// An image's file system, unpacked by umoci into a runtime bundle, and its process started as the bundle says —
/// user, working directory, environment, arguments — chrooted into it, with /proc mounted as a runtime would.
/// </summary>
internal sealed class ImageRun : IAsyncDisposable
{
    private readonly string _rootfs;

    private ImageRun(string rootfs, ChildProcess process, Dictionary<string, string> environment)
    {
        _rootfs = rootfs;
        Process = process;
        Environment = environment;
    }

    public ChildProcess Process { get; }

    public Dictionary<string, string> Environment { get; }

    public static async Task<ImageRun> StartAsync(BuiltImages images, string name, Dictionary<string, string> overrides)
    {
        var image = images.Image(name);
        var bundle = Path.Combine(images.Directory, name + "-bundle");
        if (!Directory.Exists(bundle))
        {
            var (unpacked, output) = await Repository.RunAsync("umoci", "unpack", "--image", image.Layout + ":latest", bundle);
            Assert.True(unpacked == 0, output);
        }

        var process = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(bundle, "config.json")))!["process"]!;
        var rootfs = Path.Combine(bundle, "rootfs");
        var (uid, gid) = (process["user"]!["uid"]!.GetValue<int>(), process["user"]!["gid"]!.GetValue<int>());
        var environment = process["env"]!.AsArray().Select(e => e!.GetValue<string>().Split('=', 2)).ToDictionary(kv => kv[0], kv => kv[1]);
        foreach (var (key, value) in overrides)
        {
            environment[key] = value;
        }

        // What a runtime provides: /proc, and a writable /data for the backend's SQLite file.
        Directory.CreateDirectory(Path.Combine(rootfs, "data"));
        await Repository.RunAsync("chown", $"{uid}:{gid}", Path.Combine(rootfs, "data"));
        var (mounted, mountOutput) = await Repository.RunAsync("mount", "-t", "proc", "proc", Path.Combine(rootfs, "proc"));
        Assert.True(mounted == 0, "mounting /proc for the image needs root: " + mountOutput);

        var cwd = process["cwd"]!.GetValue<string>();
        // The image's own env (GNU coreutils) sets the working directory and the environment, then execs the app;
        // no shell in between, which would drop names such as ReverseProxy__Clusters__backend-rest__….
        var arguments = new List<string> { $"--userspec={uid}:{gid}", rootfs, "/usr/bin/env", "-i", "-C", cwd };
        arguments.AddRange(environment.Select(kv => $"{kv.Key}={kv.Value}"));
        arguments.AddRange(process["args"]!.AsArray().Select(a => a!.GetValue<string>()));
        var chroot = File.Exists("/usr/sbin/chroot") ? "/usr/sbin/chroot" : "chroot";
        return new ImageRun(rootfs, ChildProcess.Start(chroot, arguments, Repository.Root), environment);
    }

    /// <summary>The real user id the app runs as, from /proc.</summary>
    public string Uid()
    {
        // chroot execs env, which execs the app: the same process.
        var status = File.ReadAllLines($"/proc/{Process.Id.ToString(CultureInfo.InvariantCulture)}/status");
        return status.Single(l => l.StartsWith("Uid:", StringComparison.Ordinal)).Split('\t', StringSplitOptions.RemoveEmptyEntries)[1];
    }

    public async ValueTask DisposeAsync()
    {
        await Process.DisposeAsync();
        await Repository.RunAsync("umount", Path.Combine(_rootfs, "proc"));
    }
}
