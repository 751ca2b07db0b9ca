using Google.Protobuf;
using Google.Protobuf.Reflection;
using Grpc.Core;
using Grpc.Reflection.V1;

namespace EdgeBridge.Contracts.Reflection;

/// <summary>
/// One <c>ServerReflectionInfo</c> stream to a replica: reads every service's files (and the imports they name) as
/// FileDescriptorProtos, then stays open so that <see cref="Ended"/> says when the replica went away. Speaks
/// <c>grpc.reflection.v1</c>, and <c>v1alpha</c> for servers that have only that one (the messages of both are the
/// same on the wire, so one set of types serves both).
/// </summary>
internal sealed class ServerReflectionReader : IDisposable
{
    private static readonly Marshaller<ServerReflectionRequest> s_requests = Marshallers.Create(r => r.ToByteArray(), ServerReflectionRequest.Parser.ParseFrom);
    private static readonly Marshaller<ServerReflectionResponse> s_responses = Marshallers.Create(r => r.ToByteArray(), ServerReflectionResponse.Parser.ParseFrom);
    private static readonly Method<ServerReflectionRequest, ServerReflectionResponse>[] s_methods =
    [
        Info("grpc.reflection.v1.ServerReflection"),
        Info("grpc.reflection.v1alpha.ServerReflection"),
    ];

    private readonly AsyncDuplexStreamingCall<ServerReflectionRequest, ServerReflectionResponse> _call;
    private readonly TimeSpan _timeout;
    private readonly TimeProvider _time;

    private ServerReflectionReader(AsyncDuplexStreamingCall<ServerReflectionRequest, ServerReflectionResponse> call, TimeSpan timeout, TimeProvider time) =>
        (_call, _timeout, _time) = (call, timeout, time);

    /// <summary>Completes when the replica ends the stream or goes away (after <see cref="ReadAsync"/>).</summary>
    public Task Ended { get; private set; } = Task.CompletedTask;

    /// <summary>
    /// Reads the files of every service the replica serves, each after its imports; <see cref="RpcException"/> when
    /// the replica cannot be reached or has no reflection, <see cref="InvalidOperationException"/> when what it
    /// answers does not hold together.
    /// </summary>
    public static async Task<(ServerReflectionReader Reader, IReadOnlyList<FileDescriptor> Files)> ReadAsync(
        CallInvoker invoker, TimeSpan timeout, TimeProvider time, CancellationToken cancellationToken)
    {
        for (var i = 0; ; i++)
        {
            var reader = new ServerReflectionReader(invoker.AsyncDuplexStreamingCall(s_methods[i], null, new CallOptions(cancellationToken: cancellationToken)), timeout, time);
            try
            {
                var files = await reader.ReadFilesAsync(cancellationToken);
                reader.Ended = EndOf(reader._call.ResponseStream.MoveNext(CancellationToken.None));
                return (reader, files);
            }
            catch (RpcException ex) when (ex.StatusCode == StatusCode.Unimplemented && i + 1 < s_methods.Length)
            {
                reader.Dispose();
            }
            catch
            {
                reader.Dispose();
                throw;
            }
        }
    }

    public void Dispose() => _call.Dispose();

    // The server sends nothing unasked: whatever ends this read (the replica went away, or Dispose) ends the stream.
    private static async Task EndOf(Task<bool> next)
    {
        try
        {
            await next;
        }
        catch (Exception ex) when (ex is RpcException or OperationCanceledException or ObjectDisposedException)
        {
        }
    }

    private async Task<IReadOnlyList<FileDescriptor>> ReadFilesAsync(CancellationToken cancellationToken)
    {
        var listed = await AskAsync(new ServerReflectionRequest { ListServices = "" }, cancellationToken);
        var services = listed.ListServicesResponse?.Service.Select(s => s.Name)
            .Where(name => !name.StartsWith("grpc.reflection.", StringComparison.Ordinal)).ToList()
            ?? throw new InvalidOperationException("The server's reflection did not list its services.");

        var files = new Dictionary<string, FileDescriptorProto>(StringComparer.Ordinal);
        foreach (var service in services)
        {
            Add(files, await AskAsync(new ServerReflectionRequest { FileContainingSymbol = service }, cancellationToken), $"service '{service}'");
        }

        // A server may answer a symbol with its file alone: the imports it names are asked for by name.
        while (files.Values.SelectMany(f => f.Dependency).FirstOrDefault(d => !files.ContainsKey(d)) is { } missing)
        {
            Add(files, await AskAsync(new ServerReflectionRequest { FileByFilename = missing }, cancellationToken), $"file '{missing}'");
            if (!files.ContainsKey(missing))
            {
                throw new InvalidOperationException($"The server's reflection did not give '{missing}', which its files import.");
            }
        }

        try
        {
            return DescriptorSets.Build(ImportsFirst(files).Select(f => f.ToByteString()));
        }
        catch (Exception ex) when (ex is DescriptorValidationException or ArgumentException or InvalidOperationException)
        {
            throw new InvalidOperationException($"The files the server's reflection gives do not hold together: {ex.Message}", ex);
        }
    }

    private async Task<ServerReflectionResponse> AskAsync(ServerReflectionRequest request, CancellationToken cancellationToken)
    {
        await _call.RequestStream.WriteAsync(request, cancellationToken);
        try
        {
            if (!await _call.ResponseStream.MoveNext(cancellationToken).WaitAsync(_timeout, _time, cancellationToken))
            {
                throw new RpcException(new Status(StatusCode.Unavailable, "The server ended its reflection stream before answering."));
            }
        }
        catch (TimeoutException)
        {
            throw new RpcException(new Status(StatusCode.DeadlineExceeded, $"The server's reflection did not answer within {_timeout}."));
        }

        var response = _call.ResponseStream.Current;
        return response.ErrorResponse is { } error
            ? throw new InvalidOperationException($"The server's reflection refused {request.MessageRequestCase}: {(StatusCode)error.ErrorCode} {error.ErrorMessage}")
            : response;
    }

    private static void Add(Dictionary<string, FileDescriptorProto> files, ServerReflectionResponse response, string what)
    {
        var answer = response.FileDescriptorResponse ?? throw new InvalidOperationException($"The server's reflection gave no files for {what}.");
        foreach (var bytes in answer.FileDescriptorProto)
        {
            var file = FileDescriptorProto.Parser.ParseFrom(bytes);
            files.TryAdd(file.Name, file);
        }
    }

    // BuildFromByteStrings wants each file after the files it imports.
    private static List<FileDescriptorProto> ImportsFirst(Dictionary<string, FileDescriptorProto> files)
    {
        var ordered = new List<FileDescriptorProto>(files.Count);
        var visited = new HashSet<string>(StringComparer.Ordinal);
        void Visit(FileDescriptorProto file)
        {
            if (visited.Add(file.Name))
            {
                foreach (var dependency in file.Dependency)
                {
                    Visit(files[dependency]);
                }

                ordered.Add(file);
            }
        }

        foreach (var file in files.Values.OrderBy(f => f.Name, StringComparer.Ordinal))
        {
            Visit(file);
        }

        return ordered;
    }

    private static Method<ServerReflectionRequest, ServerReflectionResponse> Info(string service) =>
        new(MethodType.DuplexStreaming, service, "ServerReflectionInfo", s_requests, s_responses);
}
