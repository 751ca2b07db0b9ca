using EdgeBridge.Contracts.V1;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using Grpc.Core;

namespace EdgeBridge.Contracts;

/// <summary>A unary method its contract opts into calls over the WebSocket (<c>edgebridge.v1.call</c>).</summary>
internal sealed class SocketCallMethod
{
    public SocketCallMethod(MethodDescriptor descriptor, MethodOptions methodOptions, TimeSpan defaultTimeout)
    {
        FullName = descriptor.Service.FullName + "/" + descriptor.Name;
        var options = methodOptions.GetExtension(OptionsExtensions.Call);
        if (methodOptions.GetExtension(OptionsExtensions.Credentials) is not null)
        {
            // Its failures are throttled on the paths that check credentials; a socket is opened after one.
            throw new InvalidOperationException($"{FullName} is a credential check (edgebridge.v1.credentials) and cannot also be a socket call.");
        }

        Descriptor = descriptor;
        RequiresToken = methodOptions.GetExtension(OptionsExtensions.Access) == Auth.Required;
        Timeout = options.TimeoutMs > 0 ? TimeSpan.FromMilliseconds(options.TimeoutMs) : defaultTimeout;
        GrpcMethod = DescriptorMethods.Create(MethodType.Unary, descriptor);
    }

    /// <summary><c>package.Service/Method</c>, as clients name it in <c>call</c>.</summary>
    public string FullName { get; }

    public MethodDescriptor Descriptor { get; }

    /// <summary>Whether the caller must have sent a token (the method's <c>access</c> is AUTH_REQUIRED).</summary>
    public bool RequiresToken { get; }

    public TimeSpan Timeout { get; }

    public Method<IMessage, IMessage> GrpcMethod { get; }
}
