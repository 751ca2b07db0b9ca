using EdgeBridge.Contracts.Dynamic;
using EdgeBridge.Contracts.V1;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using Grpc.Core;

namespace EdgeBridge.Contracts;

/// <summary>How the edge delivers one method's messages, from its <c>edgebridge.v1.stream</c> option.</summary>
internal readonly record struct StreamPolicy(bool Shared, int QueueLimit, bool DropOldest, bool ForwardsToken = false, bool RequiresToken = false);

/// <summary>Which side of a streaming method streams.</summary>
internal enum StreamKind
{
    /// <summary>One request, a stream of responses: a subscription on any transport.</summary>
    Server,

    /// <summary>A stream of requests, one response: over the socket only.</summary>
    Client,

    /// <summary>Both ways at once: over the socket only.</summary>
    Bidirectional,
}

/// <summary>A streaming method that its contract exposes as a WebSocket subscription (and, for server streams, an HTTP stream).</summary>
internal sealed class StreamingMethod
{
    public StreamingMethod(MethodDescriptor descriptor, StreamOptions options, EdgeWebSocketOptions limits, ProtoJson json, Auth access = Auth.Unspecified)
    {
        Descriptor = descriptor;
        Json = json;
        FullName = descriptor.Service.FullName + "/" + descriptor.Name;
        Kind = descriptor.IsClientStreaming ? descriptor.IsServerStreaming ? StreamKind.Bidirectional : StreamKind.Client : StreamKind.Server;
        if (Kind != StreamKind.Server)
        {
            // The client's messages belong to one caller, and once written upstream they cannot be replayed elsewhere.
            if (options.Sharing == Sharing.Shared)
            {
                throw new InvalidOperationException($"{FullName} streams from the client and cannot be SHARING_SHARED: its messages are one caller's.");
            }

            if (options.Resume is not null)
            {
                throw new InvalidOperationException($"{FullName} streams from the client and cannot resume: the messages it was sent cannot be replayed on another replica.");
            }
        }

        SendQueueLimit = options.SendQueueLimit == 0
            ? limits.DefaultSendQueueLimit
            : (int)Math.Min(options.SendQueueLimit, (uint)limits.MaxQueueLimit);
        var queueLimit = options.QueueLimit == 0 ? limits.DefaultQueueLimit : (int)Math.Min(options.QueueLimit, (uint)limits.MaxQueueLimit);
        var shared = options.Sharing == Sharing.Shared;
        var auth = options.Auth != Auth.Unspecified
            ? options.Auth
            : access;
        Policy = new StreamPolicy(
            Shared: shared,
            QueueLimit: Math.Max(1, queueLimit),
            DropOldest: options.SlowConsumer == SlowConsumerPolicy.DropOldest,
            // A shared call never carries one caller's credentials: its messages go to everyone alike.
            ForwardsToken: !shared && auth != Auth.None,
            RequiresToken: !shared && auth == Auth.Required);
        Cursor = StreamCursor.For(descriptor, options.Resume);
        GrpcMethod = DescriptorMethods.Create(Kind switch
        {
            StreamKind.Client => MethodType.ClientStreaming,
            StreamKind.Bidirectional => MethodType.DuplexStreaming,
            _ => MethodType.ServerStreaming,
        }, descriptor);
        Shape = ContractShape.Of(descriptor, [.. options.ToByteArray(), (byte)access]);
    }

    public StreamKind Kind { get; }

    /// <summary>The method's descriptor, types and policy as one value (<see cref="ContractShape"/>): equal shapes serve alike.</summary>
    public string Shape { get; }

    /// <summary>Whether the client sends messages (<c>send</c>, <c>end</c>): client-streaming and bidirectional methods.</summary>
    public bool ClientSends => Kind != StreamKind.Server;

    /// <summary>The client's messages that may wait to be written upstream; one more ends the stream with RESOURCE_EXHAUSTED.</summary>
    public int SendQueueLimit { get; }

    /// <summary><c>package.Service/Method</c>, as clients name it in <c>subscribe</c>.</summary>
    public string FullName { get; }

    public MethodDescriptor Descriptor { get; }

    /// <summary>
    /// The JSON mapping of the catalog this method belongs to: its calls format and parse with it, not with whatever
    /// catalog is in force when a message arrives (after a reload the two can know different types).
    /// </summary>
    public ProtoJson Json { get; }

    public StreamPolicy Policy { get; }

    /// <summary>Where a re-opened call continues; null re-opens it with the original request.</summary>
    public StreamCursor? Cursor { get; }

    public Method<IMessage, IMessage> GrpcMethod { get; }
}

/// <summary>gRPC method definitions over <see cref="IMessage"/>, built from descriptors: no generated client is needed.</summary>
internal static class DescriptorMethods
{
    public static Method<IMessage, IMessage> Create(MethodType type, MethodDescriptor descriptor) =>
        new(type, descriptor.Service.FullName, descriptor.Name, Marshaller(descriptor.InputType), Marshaller(descriptor.OutputType));

    // Generated code: written straight into the call's buffer, read from its payload without a copy. A type known only by
    // its descriptor (a contract loaded at run time): through the descriptor-driven codec.
    private static Marshaller<IMessage> Marshaller(MessageDescriptor type) => type.Parser is { } parser
        ? Marshallers.Create<IMessage>(
            static (message, context) =>
            {
                context.SetPayloadLength(message.CalculateSize());
                message.WriteTo(context.GetBufferWriter());
                context.Complete();
            },
            context => parser.ParseFrom(context.PayloadAsReadOnlySequence()))
        : Marshallers.Create<IMessage>(
            static (message, context) => context.Complete(message.ToByteArray()),
            context => context.PayloadAsReadOnlySequence() is { IsSingleSegment: true } payload
                ? DescriptorCodec.Upstream.ParseBinary(type, payload.FirstSpan)
                : DescriptorCodec.Upstream.ParseBinary(type, context.PayloadAsNewBuffer()));
}
