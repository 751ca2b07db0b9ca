namespace Trading.Backend.Market;

/// <summary>
/// Decides which replica runs the market simulator: exactly one at a time, so that every replica's quote
/// subscribers see one price history and resting orders are filled once.
/// </summary>
internal interface IMarketLease
{
    /// <summary>Waits until this replica holds the lease.</summary>
    Task<IHeldMarketLease> AcquireAsync(CancellationToken cancellationToken);
}

/// <summary>A held lease; <see cref="Lost"/> fires when the holder can no longer be sure it holds it.</summary>
internal interface IHeldMarketLease : IAsyncDisposable
{
    CancellationToken Lost { get; }
}

/// <summary>One backend process on its own database: it is always the leader.</summary>
internal sealed class ProcessMarketLease : IMarketLease, IHeldMarketLease
{
    public CancellationToken Lost => CancellationToken.None;

    public Task<IHeldMarketLease> AcquireAsync(CancellationToken cancellationToken) => Task.FromResult<IHeldMarketLease>(this);

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
