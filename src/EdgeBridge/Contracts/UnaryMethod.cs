using Google.Protobuf;
using Google.Protobuf.Reflection;
using Grpc.Core;

namespace EdgeBridge.Contracts;

/// <summary>
/// A unary method the contract exposes to browsers — it has a <c>google.api.http</c> rule or is a socket call
/// (<c>edgebridge.v1.call</c>) — as the Connect and gRPC-Web protocols call it at the edge.
/// </summary>
internal sealed class UnaryMethod
{
    public UnaryMethod(ContractMethod contract)
    {
        var descriptor = contract.Descriptor;
        Contract = contract;
        FullName = descriptor.Service.FullName + "/" + descriptor.Name;
        NoSideEffects = descriptor.GetOptions()?.IdempotencyLevel == MethodOptions.Types.IdempotencyLevel.NoSideEffects;
        GrpcMethod = DescriptorMethods.Create(MethodType.Unary, descriptor);
    }

    /// <summary><c>package.Service/Method</c>.</summary>
    public string FullName { get; }

    public MethodDescriptor Descriptor => Contract.Descriptor;

    /// <summary>Who may call it and whether it checks credentials, as on REST and gRPC.</summary>
    public ContractMethod Contract { get; }

    /// <summary>
    /// The method says it changes nothing (<c>idempotency_level = NO_SIDE_EFFECTS</c>): Connect may call it with a
    /// cacheable <c>GET</c>.
    /// </summary>
    public bool NoSideEffects { get; }

    public Method<IMessage, IMessage> GrpcMethod { get; }
}
