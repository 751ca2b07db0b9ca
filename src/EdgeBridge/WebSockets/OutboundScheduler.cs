using System.Diagnostics.CodeAnalysis;
using System.Threading.Tasks.Sources;

namespace EdgeBridge.WebSockets;

/// <summary>
/// The sources of one connection that have frames to write, and the wake-up of its writer. Each source is queued
/// at most once at a time, so the queue is bounded by the number of subscriptions however fast messages arrive.
/// </summary>
/// <remarks>
/// Every connection has one, idle or not, so it is small: a queue that allocates nothing until the first source
/// and a single reusable wait (no allocation per wait), instead of a channel with its segments and waiter objects
/// (about 1 KB per idle connection, docs/benchmarks.md).
/// </remarks>
internal sealed class OutboundScheduler : IValueTaskSource<bool>
{
    private readonly Lock _lock = new();
    private readonly Queue<IOutboundSource> _ready = new();
    private ManualResetValueTaskSourceCore<bool> _wakeUp = new() { RunContinuationsAsynchronously = true };
    private bool _waiting;
    private bool _completed;

    public void Schedule(IOutboundSource source)
    {
        lock (_lock)
        {
            if (_completed)
            {
                return;
            }

            _ready.Enqueue(source);
            if (!_waiting)
            {
                return;
            }

            _waiting = false;
        }

        _wakeUp.SetResult(true);
    }

    /// <summary>No more sources: the writer's wait ends with false once the queue is empty.</summary>
    public void Complete()
    {
        lock (_lock)
        {
            if (_completed)
            {
                return;
            }

            _completed = true;
            if (!_waiting)
            {
                return;
            }

            _waiting = false;
        }

        _wakeUp.SetResult(false);
    }

    /// <summary>True when a source is ready; false once completed and empty. One waiter at a time: the writer.</summary>
    public ValueTask<bool> WaitToReadAsync()
    {
        lock (_lock)
        {
            if (_ready.Count > 0)
            {
                return new ValueTask<bool>(true);
            }

            if (_completed)
            {
                return new ValueTask<bool>(false);
            }

            _wakeUp.Reset();
            _waiting = true;
            return new ValueTask<bool>(this, _wakeUp.Version);
        }
    }

    public bool TryRead([MaybeNullWhen(false)] out IOutboundSource source)
    {
        lock (_lock)
        {
            return _ready.TryDequeue(out source);
        }
    }

    bool IValueTaskSource<bool>.GetResult(short token) => _wakeUp.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource<bool>.GetStatus(short token) => _wakeUp.GetStatus(token);

    void IValueTaskSource<bool>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _wakeUp.OnCompleted(continuation, state, token, flags);
}
