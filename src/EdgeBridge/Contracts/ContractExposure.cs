using EdgeBridge.Contracts.V1;
using Google.Protobuf.Reflection;

namespace EdgeBridge.Contracts;

/// <summary>
/// Exposure given by configuration (<c>EdgeBridge:Contracts:Expose</c>) for protos that cannot be edited: each entry
/// becomes the <c>edgebridge.v1</c> options the method would carry, so that everything downstream reads one set of
/// options whichever way they were given.
/// </summary>
internal static class ContractExposure
{
    private const string Key = EdgeBridgeOptions.SectionName + ":Contracts:Expose";

    /// <summary>The entries by method name; a name that is not a method of the contracts, or a stream setting on a unary method, stops the host.</summary>
    public static Dictionary<string, ExposedMethodOptions> Resolve(EdgeContractsOptions options, IEnumerable<FileDescriptor> files,
        IReadOnlyDictionary<string, Google.Api.HttpRule>? httpRules = null, bool incomplete = false)
    {
        var methods = files.SelectMany(f => f.Services).SelectMany(s => s.Methods)
            .ToDictionary(m => m.Service.FullName + "/" + m.Name, StringComparer.Ordinal);
        foreach (var selector in httpRules?.Keys ?? [])
        {
            if (!incomplete && !methods.Values.Any(m => m.FullName == selector))
            {
                throw new InvalidOperationException(
                    $"{EdgeBridgeOptions.SectionName}:Contracts:ApiConfigs: the http rule for '{selector}' names no method of the loaded contracts (package.Service.Method).");
            }
        }

        var exposures = new Dictionary<string, ExposedMethodOptions>(StringComparer.Ordinal);
        for (var i = 0; i < options.Expose.Count; i++)
        {
            var entry = options.Expose[i];
            if (!methods.TryGetValue(entry.Method, out var method))
            {
                if (incomplete)
                {
                    continue;
                }

                throw new InvalidOperationException(
                    $"{Key}:{i}:Method '{entry.Method}' is not a method of the loaded contracts (package.Service/Method; known: {string.Join(", ", methods.Keys.Order(StringComparer.Ordinal))}).");
            }

            if (!exposures.TryAdd(entry.Method, entry))
            {
                throw new InvalidOperationException($"{Key}:{i}:Method '{entry.Method}' is exposed twice.");
            }

            if (!method.IsServerStreaming && !method.IsClientStreaming && (entry.Sharing is not null || entry.QueueLimit is not null || entry.SlowConsumer is not null))
            {
                throw new InvalidOperationException($"{Key}:{i} sets Sharing, QueueLimit or SlowConsumer on '{entry.Method}', which is unary: those are stream policies.");
            }

            if (entry.QueueLimit is <= 0)
            {
                throw new InvalidOperationException($"{Key}:{i}:QueueLimit must be greater than 0 (was {entry.QueueLimit}).");
            }
        }

        return exposures;
    }

    /// <summary>The method's options as the edge applies them: the .proto's, with the configured entry over them.</summary>
    public static MethodOptions? OptionsOf(MethodDescriptor method, Dictionary<string, ExposedMethodOptions> exposures,
        IReadOnlyDictionary<string, Google.Api.HttpRule>? httpRules = null, bool incomplete = false)
    {
        var declared = method.GetOptions();
        var rule = httpRules?.GetValueOrDefault(method.FullName);
        if (rule is not null)
        {
            // An API configuration's rule replaces the .proto's own (grpc-gateway's precedence).
            declared = declared?.Clone() ?? new MethodOptions();
            declared.SetExtension(Google.Api.AnnotationsExtensions.Http, rule);
        }

        if (!exposures.TryGetValue(method.Service.FullName + "/" + method.Name, out var entry))
        {
            return declared;
        }

        var options = declared?.Clone() ?? new MethodOptions();
        var access = entry.Auth switch
        {
            ExposedAuth.Required => Auth.Required,
            ExposedAuth.None => Auth.None,
            _ => (Auth?)null,
        };
        if (method.IsServerStreaming || method.IsClientStreaming)
        {
            var stream = options.GetExtension(OptionsExtensions.Stream)?.Clone() ?? new StreamOptions();
            stream.Sharing = entry.Sharing switch
            {
                ExposedSharing.Shared => Sharing.Shared,
                ExposedSharing.PerCaller => Sharing.PerCaller,
                _ => stream.Sharing,
            };
            stream.QueueLimit = entry.QueueLimit is { } limit ? (uint)limit : stream.QueueLimit;
            stream.SlowConsumer = entry.SlowConsumer switch
            {
                ExposedSlowConsumer.DropOldest => SlowConsumerPolicy.DropOldest,
                ExposedSlowConsumer.EndSubscription => SlowConsumerPolicy.EndSubscription,
                _ => stream.SlowConsumer,
            };
            stream.Auth = access ?? stream.Auth;
            options.SetExtension(OptionsExtensions.Stream, stream);
        }
        else
        {
            options.SetExtension(OptionsExtensions.Call, options.GetExtension(OptionsExtensions.Call)?.Clone() ?? new SocketCall());
            if (access is { } auth)
            {
                options.SetExtension(OptionsExtensions.Access, auth);
            }
        }

        return options;
    }
}
