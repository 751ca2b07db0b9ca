using System.Threading.Channels;

namespace EdgeBridge.Subscriptions;

/// <summary>
/// The sources of one connection that have frames to write. Each source is queued at most once at a time, so
/// the queue is bounded by the number of subscriptions however fast messages arrive.
/// </summary>
internal sealed class OutboundScheduler
{
    private readonly Channel<IOutboundSource> _ready = Channel.CreateUnbounded<IOutboundSource>(new UnboundedChannelOptions
    {
        SingleReader = true,
        AllowSynchronousContinuations = false,
    });

    public ChannelReader<IOutboundSource> Reader => _ready.Reader;

    public void Schedule(IOutboundSource source) => _ready.Writer.TryWrite(source);

    public void Complete() => _ready.Writer.TryComplete();
}
