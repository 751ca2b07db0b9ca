using Google.Protobuf.WellKnownTypes;
using Microsoft.Extensions.Options;
using Trading.Backend.Hosting;
using Trading.Backend.Trading;
using Trading.V1;

namespace Trading.Backend.Market;

/// <summary>
/// Moves every listed price by a random walk at the configured tick interval, then fills resting limit orders —
/// on the one replica that holds the market lease. The others take its quotes through <see cref="IQuoteReplication"/>;
/// when it dies, the next holder continues the walk from the last prices published.
/// </summary>
internal sealed class MarketSimulator(
    QuoteBook book,
    OrderBook orders,
    IMarketLease lease,
    IQuoteReplication replication,
    IOptions<BackendOptions> options,
    TimeProvider time,
    ILogger<MarketSimulator> logger) : BackgroundService
{
    private bool _replicationFailing;
    private bool _fillFailing;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var market = options.Value.Market;
        var random = market.Seed == 0 ? new Random() : new Random(market.Seed);
        while (!stoppingToken.IsCancellationRequested)
        {
            await using var held = await lease.AcquireAsync(stoppingToken);
            using var leading = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken, held.Lost);
            try
            {
                await CatchUpAsync(leading.Token);
                BackendLog.MarketLeadAcquired(logger);
                await RunAsync(random, leading.Token);
            }
            catch (OperationCanceledException) when (!stoppingToken.IsCancellationRequested)
            {
                BackendLog.MarketLeadLost(logger);
            }
        }
    }

    // The walk continues from the last prices any leader published; without the engine, from this replica's.
    private async Task CatchUpAsync(CancellationToken cancellationToken)
    {
        try
        {
            foreach (var quote in await replication.ReadLatestAsync(cancellationToken))
            {
                book.Apply(quote);
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            BackendLog.QuoteReplicationFailed(logger, ex);
        }
    }

    private async Task RunAsync(Random random, CancellationToken cancellationToken)
    {
        var market = options.Value.Market;
        using var timer = new PeriodicTimer(market.TickInterval, time);
        var tick = new List<Quote>(book.Symbols.Length);
        while (await timer.WaitForNextTickAsync(cancellationToken))
        {
            var now = Timestamp.FromDateTimeOffset(time.GetUtcNow());
            tick.Clear();
            foreach (var symbol in book.Symbols)
            {
                book.TryGet(symbol.Symbol, out var last);
                // Log-normal step: prices stay positive however long the walk runs.
                var step = market.Volatility * NextGaussian(random);
                var price = Math.Max(0.01, last.Price * Math.Exp(step));
                if (Math.Round(price, 2) != last.Price)
                {
                    tick.Add(book.Publish(symbol.Symbol, price, now));
                }
            }

            await ReplicateAsync(tick, cancellationToken);
            try
            {
                await orders.FillRestingOrdersAsync(cancellationToken);
                _fillFailing = false;
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // Once per outage, not once per tick.
                if (!_fillFailing)
                {
                    BackendLog.FillFailed(logger, ex);
                    _fillFailing = true;
                }
            }
        }
    }

    // This replica's subscribers keep their prices while the engine is away; the others get them again once it is back.
    private async Task ReplicateAsync(List<Quote> tick, CancellationToken cancellationToken)
    {
        if (tick.Count == 0)
        {
            return;
        }

        try
        {
            await replication.PublishAsync(tick, cancellationToken);
            _replicationFailing = false;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            if (!_replicationFailing)
            {
                BackendLog.QuoteReplicationFailed(logger, ex);
                _replicationFailing = true;
            }
        }
    }

    private static double NextGaussian(Random random)
    {
        // Box-Muller transform.
        var u1 = 1.0 - random.NextDouble();
        var u2 = random.NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2);
    }
}
