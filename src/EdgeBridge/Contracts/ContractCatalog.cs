using System.Collections.Frozen;
using EdgeBridge.Contracts.Dynamic;
using EdgeBridge.Contracts.V1;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using Microsoft.Extensions.Options;

namespace EdgeBridge.Contracts;

/// <summary>The proto files registered with <c>AddContract</c>; the edge learns every method from them.</summary>
internal sealed class ContractOptions
{
    public List<FileDescriptor> Files { get; } = [];

    /// <summary>HTTP rules from API configuration files, by selector (<c>package.Service.Method</c>): they replace the methods' own.</summary>
    public Dictionary<string, Google.Api.HttpRule> HttpRules { get; } = new(StringComparer.Ordinal);

    /// <summary>
    /// Set while some of the contracts are still to come (server reflection not read yet): configured exposures and
    /// http rules that name methods not loaded wait for them instead of stopping the host.
    /// </summary>
    public bool Incomplete { get; set; }
}

/// <summary>
/// Every streaming method of the registered contracts that opts in with <c>edgebridge.v1.stream</c>, every
/// method's call policy (<see cref="ContractMethod"/>), and the JSON mapping shared by all of them. Built once from
/// descriptors: no per-method code exists.
/// </summary>
internal sealed class ContractCatalog
{
    private readonly FrozenDictionary<string, StreamingMethod> _methods;
    private readonly FrozenDictionary<string, SocketCallMethod> _socketCalls;
    private readonly FrozenDictionary<string, UnaryMethod> _unary;
    private readonly FrozenDictionary<string, ContractMethod> _byGrpcPath;
    private readonly FrozenDictionary<string, (HttpRuleTemplate Template, ContractMethod Method)[]> _byHttpMethod;

    public ContractCatalog(IOptions<ContractOptions> contracts, IOptions<EdgeBridgeOptions> options)
        : this(contracts.Value, options.Value)
    {
    }

    /// <summary>Builds the catalog of <paramref name="contracts"/>; an <see cref="InvalidOperationException"/> names what does not hold.</summary>
    public ContractCatalog(ContractOptions contracts, EdgeBridgeOptions options)
    {
        Contracts = contracts;
        var files = Closure(contracts.Files);
        var exposures = ContractExposure.Resolve(options.Contracts, files, contracts.HttpRules, contracts.Incomplete);
        var methods = new Dictionary<string, StreamingMethod>(StringComparer.Ordinal);
        var calls = new Dictionary<string, ContractMethod>(StringComparer.Ordinal);
        var socketCalls = new Dictionary<string, SocketCallMethod>(StringComparer.Ordinal);
        var unary = new Dictionary<string, UnaryMethod>(StringComparer.Ordinal);
        var described = files.Append(Google.Rpc.ErrorDetailsReflection.Descriptor).Append(Google.Rpc.StatusReflection.Descriptor).ToArray();
        Json = new ProtoJson(TypeRegistry.FromFiles(described), new DescriptorCodec(described));
        foreach (var file in files)
        {
            foreach (var service in file.Services)
            {
                foreach (var method in service.Methods)
                {
                    var methodOptions = ContractExposure.OptionsOf(method, exposures, contracts.HttpRules);
                    var call = new ContractMethod(method, methodOptions);
                    calls[call.GrpcPath] = call;
                    if ((method.IsServerStreaming || method.IsClientStreaming)
                        && methodOptions?.GetExtension(OptionsExtensions.Stream) is { } stream)
                    {
                        var exposed = new StreamingMethod(method, stream, options.WebSockets, Json, methodOptions.GetExtension(OptionsExtensions.Access));
                        methods[exposed.FullName] = exposed;
                    }

                    if (!method.IsServerStreaming && !method.IsClientStreaming
                        && methodOptions?.GetExtension(OptionsExtensions.Call) is not null)
                    {
                        var exposed = new SocketCallMethod(method, methodOptions, options.WebSockets.CallTimeout);
                        socketCalls[exposed.FullName] = exposed;
                    }

                    // What browsers may call over REST or the socket, they may call over Connect and gRPC-Web.
                    if (!method.IsServerStreaming && !method.IsClientStreaming
                        && (call.HttpBindings.Count > 0 || methodOptions?.GetExtension(OptionsExtensions.Call) is not null))
                    {
                        var exposed = new UnaryMethod(call);
                        unary[exposed.FullName] = exposed;
                    }
                }
            }
        }

        _methods = methods.ToFrozenDictionary(StringComparer.Ordinal);
        _socketCalls = socketCalls.ToFrozenDictionary(StringComparer.Ordinal);
        _unary = unary.ToFrozenDictionary(StringComparer.Ordinal);
        _byGrpcPath = calls.ToFrozenDictionary(StringComparer.Ordinal);
        var bindings = calls.Values.SelectMany(call => call.HttpBindings.Select(template => (Template: template, Method: call))).ToList();
        foreach (var clash in bindings.GroupBy(b => b.Template.Shape, StringComparer.Ordinal).Where(g => g.Count() > 1))
        {
            var (first, second) = (clash.First(), clash.Skip(1).First());
            throw new InvalidOperationException(
                $"The http rules of {first.Method.Descriptor.FullName} ({first.Template.HttpMethod} {first.Template.Template}) and {second.Method.Descriptor.FullName} " +
                $"({second.Template.HttpMethod} {second.Template.Template}) match the same requests: give one of them another path.");
        }

        _byHttpMethod = bindings
            .GroupBy(binding => binding.Template.HttpMethod, StringComparer.OrdinalIgnoreCase)
            .ToFrozenDictionary(group => group.Key, group => group.ToArray(), StringComparer.OrdinalIgnoreCase);
    }

    /// <summary>The files and rules the catalog was built from.</summary>
    public ContractOptions Contracts { get; }

    public IReadOnlyCollection<StreamingMethod> Methods => _methods.Values;

    /// <summary>Every method the catalog knows, by gRPC path.</summary>
    public int MethodCount => _byGrpcPath.Count;

    public ProtoJson Json { get; }

    public bool TryGet(string fullName, out StreamingMethod method) => _methods.TryGetValue(fullName, out method!);

    /// <summary>The unary methods callable over the socket.</summary>
    public IReadOnlyCollection<SocketCallMethod> SocketCalls => _socketCalls.Values;

    public bool TryGetCall(string fullName, out SocketCallMethod method) => _socketCalls.TryGetValue(fullName, out method!);

    /// <summary>The unary methods browsers may call (over REST, the socket, Connect and gRPC-Web).</summary>
    public IReadOnlyCollection<UnaryMethod> BrowserCalls => _unary.Values;

    public bool TryGetBrowserCall(string fullName, out UnaryMethod method) => _unary.TryGetValue(fullName, out method!);

    /// <summary>The method a gRPC call to <paramref name="path"/> (<c>/package.Service/Method</c>) invokes.</summary>
    public ContractMethod? FindGrpc(string path) => _byGrpcPath.GetValueOrDefault(path);

    /// <summary>The method and binding a REST request invokes through its <c>google.api.http</c> rule.</summary>
    public (HttpRuleTemplate Template, ContractMethod Method)? FindRest(string httpMethod, ReadOnlySpan<char> path)
    {
        if (_byHttpMethod.TryGetValue(httpMethod, out var bindings))
        {
            foreach (var binding in bindings)
            {
                if (binding.Template.Matches(path))
                {
                    return binding;
                }
            }
        }

        return null;
    }

    private static List<FileDescriptor> Closure(IEnumerable<FileDescriptor> roots)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var ordered = new List<FileDescriptor>();
        var pending = new Stack<FileDescriptor>(roots);
        while (pending.Count > 0)
        {
            var file = pending.Pop();
            if (seen.Add(file.Name))
            {
                ordered.Add(file);
                foreach (var dependency in file.Dependencies)
                {
                    pending.Push(dependency);
                }
            }
        }

        return ordered;
    }
}

/// <summary>
/// Canonical proto3 JSON, identical to what the backend's JSON transcoding writes: int64 as strings, enums as
/// names, default values included, lowerCamel names. Generated messages go through Google.Protobuf's formatter and
/// parser; types known only by descriptors (contracts loaded at run time) through <see cref="DescriptorCodec"/>,
/// which writes the same bytes.
/// </summary>
internal sealed class ProtoJson(TypeRegistry registry, DescriptorCodec? codec = null)
{
    /// <summary>The codec for types without generated code, its type registry the catalog's files.</summary>
    public DescriptorCodec Codec { get; } = codec ?? new DescriptorCodec([]);

    /// <summary>A message as JSON text (compact for a dynamic message, JsonFormatter's spacing for a generated one).</summary>
    public string Format(IMessage message) =>
        message is DynamicMessage dynamic ? System.Text.Encoding.UTF8.GetString(Codec.ToJson(dynamic)) : Formatter.Format(message);

    /// <summary>Parses proto3 JSON into a message of <paramref name="type"/>; a <see cref="FormatException"/> (or JsonParser's own) when it does not fit.</summary>
    public IMessage Parse(string json, MessageDescriptor type) =>
        type.ClrType is null ? Codec.ParseJson(type, System.Text.Encoding.UTF8.GetBytes(json)) : Parser.Parse(json, type);

    /// <summary>Parses the binary form of a message of <paramref name="type"/>.</summary>
    public IMessage ParseBinary(MessageDescriptor type, ReadOnlySpan<byte> bytes) =>
        type.Parser is { } parser ? parser.ParseFrom(bytes) : Codec.ParseBinary(type, bytes);

    public JsonFormatter Formatter { get; } = new(JsonFormatter.Settings.Default.WithFormatDefaultValues(true).WithTypeRegistry(registry));

    public JsonParser Parser { get; } = new(JsonParser.Settings.Default.WithTypeRegistry(registry));

    public TypeRegistry Registry { get; } = registry;

    private static readonly System.Text.Json.JsonWriterOptions s_compact = new()
    {
        // The escaping JSON transcoding uses, so that the same message is byte-for-byte the same on REST and WebSocket.
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    /// <summary>Formats <paramref name="message"/> as compact UTF-8 JSON, the bytes every subscriber receives.</summary>
    public byte[] FormatUtf8(IMessage message)
    {
        if (message is DynamicMessage dynamic)
        {
            // Compact already: one pass.
            return Codec.ToJson(dynamic);
        }

        // JsonFormatter writes spaced JSON; re-writing it compactly costs one pass per upstream message, never per subscriber.
        using var document = System.Text.Json.JsonDocument.Parse(Formatter.Format(message));
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(256);
        using (var writer = new System.Text.Json.Utf8JsonWriter(buffer, s_compact))
        {
            document.WriteTo(writer);
        }

        return buffer.WrittenSpan.ToArray();
    }
}
