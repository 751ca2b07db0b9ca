using EdgeBridge.Contracts.V1;
using Google.Api;
using Google.Protobuf.Reflection;

namespace EdgeBridge.Contracts;

/// <summary>
/// A method of the registered contracts as the edge sees calls to it over REST and gRPC: who may call it and
/// whether it checks credentials. Streaming subscriptions have their own policy (<see cref="StreamingMethod"/>).
/// </summary>
internal sealed class ContractMethod
{
    /// <param name="descriptor">The method.</param>
    /// <param name="options">The method's options as the edge applies them: the .proto's, with configuration's exposure over them.</param>
    public ContractMethod(MethodDescriptor descriptor, MethodOptions? options)
    {
        Descriptor = descriptor;
        GrpcPath = "/" + descriptor.Service.FullName + "/" + descriptor.Name;
        var access = options?.GetExtension(OptionsExtensions.Stream) is { Auth: not Auth.Unspecified } stream
            ? stream.Auth
            : options?.GetExtension(OptionsExtensions.Access) ?? Auth.Unspecified;
        RequiresCaller = access == Auth.Required;
        if (options?.GetExtension(OptionsExtensions.Credentials) is { PrincipalField.Length: > 0 } credentials)
        {
            Principal = descriptor.InputType.FindFieldByName(credentials.PrincipalField) is { FieldType: FieldType.String, IsRepeated: false } field
                ? field
                : throw new InvalidOperationException(
                    $"{descriptor.FullName}: edgebridge.v1.credentials names principal_field '{credentials.PrincipalField}', which is not a string field of {descriptor.InputType.FullName}.");
        }

        HttpRule = options?.GetExtension(AnnotationsExtensions.Http);
        HttpBindings = HttpRule is { } rule ? [.. HttpRuleTemplate.FromRule(rule)] : [];
        if (HttpRule is not null)
        {
            HttpRuleCheck.Verify(descriptor, HttpRule, HttpBindings);
        }
        UnaryGrpcMethod = descriptor.IsClientStreaming || descriptor.IsServerStreaming ? null! : DescriptorMethods.Create(Grpc.Core.MethodType.Unary, descriptor);
    }

    /// <summary>The method as a unary gRPC call (for REST transcoded at the edge); null for a streaming method.</summary>
    public Grpc.Core.Method<Google.Protobuf.IMessage, Google.Protobuf.IMessage> UnaryGrpcMethod { get; }

    public MethodDescriptor Descriptor { get; }

    /// <summary>The HTTP/2 path of the method's gRPC calls: <c>/package.Service/Method</c>.</summary>
    public string GrpcPath { get; }

    /// <summary>Whether the contract says the method needs the caller's token (<c>AUTH_REQUIRED</c>): the edge refuses calls without one.</summary>
    public bool RequiresCaller { get; }

    /// <summary>For a credential check (<c>edgebridge.v1.credentials</c>), the request field naming the user; else null.</summary>
    public FieldDescriptor? Principal { get; }

    /// <summary>The method's <c>google.api.http</c> rule: its .proto's, or an API configuration's that replaces it.</summary>
    public HttpRule? HttpRule { get; }

    /// <summary>The method's REST bindings from its <c>google.api.http</c> rule.</summary>
    public IReadOnlyList<HttpRuleTemplate> HttpBindings { get; }
}
