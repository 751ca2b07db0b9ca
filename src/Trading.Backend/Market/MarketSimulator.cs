using Google.Protobuf.WellKnownTypes;
using Microsoft.Extensions.Options;
using Trading.Backend.Hosting;
using Trading.Backend.Trading;

namespace Trading.Backend.Market;

/// <summary>Moves every listed price by a random walk at the configured tick interval, then fills resting limit orders.</summary>
internal sealed class MarketSimulator(
    QuoteBook book,
    OrderBook orders,
    IOptions<BackendOptions> options,
    TimeProvider time,
    ILogger<MarketSimulator> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var market = options.Value.Market;
        var random = market.Seed == 0 ? new Random() : new Random(market.Seed);
        using var timer = new PeriodicTimer(market.TickInterval, time);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            var now = Timestamp.FromDateTimeOffset(time.GetUtcNow());
            foreach (var symbol in book.Symbols)
            {
                book.TryGet(symbol.Symbol, out var last);
                // Log-normal step: prices stay positive however long the walk runs.
                var step = market.Volatility * NextGaussian(random);
                var price = Math.Max(0.01, last.Price * Math.Exp(step));
                if (Math.Round(price, 2) != last.Price)
                {
                    book.Publish(symbol.Symbol, price, now);
                }
            }

            try
            {
                await orders.FillRestingOrdersAsync(stoppingToken);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                BackendLog.FillFailed(logger, ex);
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
