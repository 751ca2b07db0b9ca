using EdgeBridge.Contracts;
using EdgeBridge.Streams;

namespace EdgeBridge.Tests.Streams;

/// <summary>A sink that drains at once (unless told not to) and keeps what it took, for the stream tests.</summary>
internal sealed class TestSink(StreamingMethod method, MessageEncoding encoding, bool drains = true) : StreamSink(method, encoding, DateTimeOffset.UnixEpoch)
{
    private readonly Lock _lock = new();
    private readonly List<byte[]> _messages = [];
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public List<byte[]> Messages
    {
        get
        {
            lock (_lock)
            {
                return [.. _messages];
            }
        }
    }

    public Google.Rpc.Status? Terminal { get; private set; }

    private readonly TaskCompletionSource<Google.Rpc.Status> _ended = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>The status the sink ended with, once it is taken.</summary>
    public Task<Google.Rpc.Status> Ended => _ended.Task.WaitAsync(TimeSpan.FromSeconds(30));

    public async Task Received(int count)
    {
        while (true)
        {
            Task changed;
            lock (_lock)
            {
                if (_messages.Count >= count)
                {
                    return;
                }

                changed = _changed.Task;
            }

            await changed.WaitAsync(TimeSpan.FromSeconds(30));
        }
    }

    protected override void OnReady()
    {
        if (!drains)
        {
            return;
        }

        while (TryTake(out var item))
        {
            lock (_lock)
            {
                if (item.Message is { } message)
                {
                    _messages.Add(message);
                }
                else
                {
                    Terminal = item.Terminal;
                    _ended.TrySetResult(item.Terminal!);
                }

                _changed.TrySetResult();
                _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
            }
        }

        Drained();
    }
}
