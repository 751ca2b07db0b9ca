using Trading.V1;

namespace Trading.Backend.Market;

/// <summary>Carries the market leader's quotes to the other replicas, and keeps the last ones for the next leader.</summary>
internal interface IQuoteReplication
{
    /// <summary>Publishes one tick's quotes from the leader.</summary>
    Task PublishAsync(IReadOnlyList<Quote> quotes, CancellationToken cancellationToken);

    /// <summary>The last quote of every symbol the previous leaders published; empty when there were none.</summary>
    Task<IReadOnlyList<Quote>> ReadLatestAsync(CancellationToken cancellationToken);
}

/// <summary>A single process: its quote book is the only one.</summary>
internal sealed class NoQuoteReplication : IQuoteReplication
{
    public Task PublishAsync(IReadOnlyList<Quote> quotes, CancellationToken cancellationToken) => Task.CompletedTask;

    public Task<IReadOnlyList<Quote>> ReadLatestAsync(CancellationToken cancellationToken) => Task.FromResult<IReadOnlyList<Quote>>([]);
}
