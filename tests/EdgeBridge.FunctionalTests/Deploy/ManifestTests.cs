using System.Reflection;
using System.Text.Json.Nodes;
using System.Xml.Linq;
using EdgeBridge.FunctionalTests.Common;
using YamlDotNet.RepresentationModel;

namespace EdgeBridge.FunctionalTests.Deploy;

/// <summary>
/// The Kubernetes manifests in deploy/kubernetes parse, and agree with the applications they run: probes on the
/// ports the images expose, a grace period that covers the drain, and only settings the applications have.
/// </summary>
public sealed class ManifestTests
{
    private static readonly string s_manifests = Path.Combine(Repository.Root, "deploy", "kubernetes");

    public static TheoryData<string> Files => new(Directory.GetFiles(s_manifests, "*.yaml").Select(Path.GetFileName)!);

    [Theory]
    [MemberData(nameof(Files))]
    public void EveryDocument_HasKindNameAndApiVersion(string file)
    {
        var documents = Load(file);

        Assert.NotEmpty(documents);
        Assert.All(documents, document =>
        {
            Assert.False(string.IsNullOrEmpty(Scalar(document, "apiVersion")));
            Assert.False(string.IsNullOrEmpty(Scalar(document, "kind")));
            Assert.False(string.IsNullOrEmpty(Scalar(document, "metadata", "name")));
        });
    }

    [Theory]
    [InlineData("edge.yaml", "EdgeBridge.Host", "edge")]
    [InlineData("backend.yaml", "Trading.Backend", "backend")]
    public void Deployment_ProbesAndPortsAreTheImages(string file, string project, string container)
    {
        var pod = PodSpec(file);
        var app = Container(pod, container);
        var exposed = ContainerPorts(project);

        var ports = ((YamlSequenceNode)app["ports"]).Cast<YamlMappingNode>().ToDictionary(p => Scalar(p, "name"), p => int.Parse(Scalar(p, "containerPort")));
        Assert.Equal(exposed.Order(), ports.Values.Order());
        foreach (var probe in new[] { "readinessProbe", "livenessProbe" })
        {
            var get = (YamlMappingNode)((YamlMappingNode)app[probe])["httpGet"];
            Assert.Contains(Scalar(get, "port"), ports.Keys);
            Assert.Equal(probe == "readinessProbe" ? "/readyz" : "/healthz", Scalar(get, "path"));
        }

        Assert.Equal("1654", Scalar((YamlMappingNode)pod["securityContext"], "runAsUser"));
        Assert.Equal("true", Scalar((YamlMappingNode)pod["securityContext"], "runAsNonRoot"));
    }

    [Fact]
    public void Edge_GracePeriodCoversPreStopDrainAndShutdown()
    {
        var pod = PodSpec("edge.yaml");
        var edge = Container(pod, "edge");
        var env = Environment(edge);

        var preStop = ((YamlSequenceNode)((YamlMappingNode)((YamlMappingNode)((YamlMappingNode)edge["lifecycle"])["preStop"])["exec"])["command"])
            .Cast<YamlScalarNode>().Select(n => n.Value!).ToList();
        Assert.Equal("/bin/sleep", preStop[0]);
        var drain = TimeSpan.Parse(env.GetValueOrDefault("EdgeBridge__WebSockets__DrainPeriod") ?? new EdgeWebSocketOptions().DrainPeriod.ToString());
        var shutdown = TimeSpan.Parse(env.GetValueOrDefault("HostOptions__ShutdownTimeout")
            ?? JsonNode.Parse(File.ReadAllText(Path.Combine(Repository.Root, "src", "EdgeBridge.Host", "appsettings.json")))!["HostOptions"]!["ShutdownTimeout"]!.GetValue<string>());
        var needed = TimeSpan.FromSeconds(int.Parse(preStop[1])) + drain + shutdown;

        Assert.True(TimeSpan.FromSeconds(int.Parse(Scalar(pod, "terminationGracePeriodSeconds"))) > needed,
            $"terminationGracePeriodSeconds must exceed preStop + drain + shutdown ({needed.TotalSeconds} s)");
    }

    [Theory]
    [InlineData("edge.yaml", "edge", typeof(EdgeBridgeOptions), "EdgeBridge", "EdgeBridge.Host")]
    [InlineData("backend.yaml", "backend", typeof(Trading.Backend.Hosting.BackendOptions), "Backend", "Trading.Backend")]
    public void EnvironmentNames_AreSettingsTheApplicationHas(string file, string container, Type options, string section, string project)
    {
        var settings = JsonNode.Parse(File.ReadAllText(Path.Combine(Repository.Root, "src", project, "appsettings.json")))!;
        foreach (var name in Environment(Container(PodSpec(file), container)).Keys)
        {
            var path = name.Split("__");
            var known = path[0] == section
                ? HasProperty(options, path[1..])
                : path[0] == "HostOptions" ? typeof(Microsoft.Extensions.Hosting.HostOptions).GetProperty(path[1]) is not null
                : path[0] == "ReverseProxy" && path.Length == 6 && path[1] == "Clusters" && path[3] == "Destinations"
                    ? settings["ReverseProxy"]!["Clusters"]![path[2]] is not null
                    : HasSetting(settings, path);
            Assert.True(known, $"{file}: {name} is not a setting of {project}");
        }
    }

    private static bool HasProperty(Type type, string[] path)
    {
        foreach (var name in path)
        {
            if (type.IsGenericType && type.GetGenericTypeDefinition() == typeof(Dictionary<,>))
            {
                // A named entry (a listener): the rest is a property of its value.
                type = type.GetGenericArguments()[1];
                continue;
            }

            var property = type.GetProperty(name, BindingFlags.Public | BindingFlags.Instance | BindingFlags.IgnoreCase);
            if (property is null)
            {
                return false;
            }

            type = property.PropertyType;
        }

        return true;
    }

    private static bool HasSetting(JsonNode settings, string[] path) => path.Aggregate<string, JsonNode?>(settings, (node, key) => node?[key]) is not null;

    private static List<int> ContainerPorts(string project) =>
        XDocument.Load(Path.Combine(Repository.Root, "src", project, project + ".csproj")).Descendants("ContainerPort")
            .Select(p => int.Parse(p.Attribute("Include")!.Value)).ToList();

    private static Dictionary<string, string?> Environment(YamlMappingNode container) =>
        ((YamlSequenceNode)container["env"]).Cast<YamlMappingNode>().ToDictionary(e => Scalar(e, "name"),
            e => e.Children.ContainsKey(new YamlScalarNode("value")) ? Scalar(e, "value") : null);

    private static YamlMappingNode PodSpec(string file)
    {
        var deployment = Load(file).Single(d => Scalar(d, "kind") == "Deployment");
        return (YamlMappingNode)((YamlMappingNode)((YamlMappingNode)deployment["spec"])["template"])["spec"];
    }

    private static YamlMappingNode Container(YamlMappingNode pod, string name) =>
        ((YamlSequenceNode)pod["containers"]).Cast<YamlMappingNode>().Single(c => Scalar(c, "name") == name);

    private static List<YamlMappingNode> Load(string file)
    {
        var stream = new YamlStream();
        using var reader = new StreamReader(Path.Combine(s_manifests, file));
        stream.Load(reader);
        return stream.Documents.Select(d => (YamlMappingNode)d.RootNode).ToList();
    }

    private static string Scalar(YamlMappingNode node, params string[] path)
    {
        YamlNode current = node;
        foreach (var key in path)
        {
            current = ((YamlMappingNode)current)[key];
        }

        return ((YamlScalarNode)current).Value!;
    }
}
