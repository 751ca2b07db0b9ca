using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Threading.Channels;
using Google.Protobuf.WellKnownTypes;
using Microsoft.Extensions.Options;
using Trading.Backend.Hosting;
using Trading.V1;

namespace Trading.Backend.Market;

/// <summary>The latest quote of every listed symbol, and the live feed of their changes.</summary>
internal sealed class QuoteBook
{
    // A watcher that falls this far behind loses its oldest quotes: a quote is superseded by the next one.
    private const int WatcherCapacity = 1024;

    private static readonly ListedSymbol[] s_defaultSymbols =
    [
        new() { Symbol = "ACME", Name = "Acme Corporation", OpenPrice = 187.25 },
        new() { Symbol = "GLBX", Name = "Globex Corporation", OpenPrice = 92.10 },
        new() { Symbol = "HOOL", Name = "Hooli", OpenPrice = 412.80 },
        new() { Symbol = "INIT", Name = "Initech", OpenPrice = 23.45 },
        new() { Symbol = "MASS", Name = "Massive Dynamic", OpenPrice = 301.60 },
        new() { Symbol = "OSCP", Name = "Oscorp Industries", OpenPrice = 57.35 },
        new() { Symbol = "PIED", Name = "Pied Piper", OpenPrice = 14.20 },
        new() { Symbol = "STRK", Name = "Stark Industries", OpenPrice = 655.00 },
        new() { Symbol = "UMBR", Name = "Umbrella Corporation", OpenPrice = 76.90 },
        new() { Symbol = "WAYN", Name = "Wayne Enterprises", OpenPrice = 248.15 },
        new() { Symbol = "WONK", Name = "Wonka Industries", OpenPrice = 39.75 },
        new() { Symbol = "CYBD", Name = "Cyberdyne Systems", OpenPrice = 128.40 },
    ];

    private readonly ConcurrentDictionary<string, Quote> _quotes = new(StringComparer.Ordinal);
    private readonly Dictionary<string, double> _openPrices = new(StringComparer.Ordinal);
    private readonly Lock _watchersLock = new();
    private readonly Lock _publishLock = new();
    private ImmutableArray<Channel<Quote>> _watchers = [];

    public QuoteBook(IOptions<BackendOptions> options, TimeProvider time)
    {
        var listed = options.Value.Market.Symbols is { Count: > 0 } configured ? configured.ToArray() : s_defaultSymbols;
        Symbols = listed.Select(s => new SymbolInfo { Symbol = s.Symbol, Name = s.Name }).OrderBy(s => s.Symbol, StringComparer.Ordinal).ToImmutableArray();
        var now = Timestamp.FromDateTimeOffset(time.GetUtcNow());
        foreach (var symbol in listed)
        {
            _openPrices[symbol.Symbol] = symbol.OpenPrice;
            _quotes[symbol.Symbol] = NewQuote(symbol.Symbol, symbol.OpenPrice, symbol.OpenPrice, now, sequence: 1);
        }
    }

    public ImmutableArray<SymbolInfo> Symbols { get; }

    public bool TryGet(string symbol, out Quote quote) => _quotes.TryGetValue(symbol, out quote!);

    /// <summary>Sets a new price; called by the simulator of the market leader.</summary>
    public Quote Publish(string symbol, double price, Timestamp time)
    {
        lock (_publishLock)
        {
            var previous = _quotes[symbol];
            var quote = NewQuote(symbol, price, _openPrices[symbol], time, previous.Sequence + 1);
            Set(quote);
            return quote;
        }
    }

    /// <summary>
    /// Takes a quote the market leader published, on another replica or before this one led; a quote of an
    /// unlisted symbol, or one not newer than the current, is ignored.
    /// </summary>
    public bool Apply(Quote quote)
    {
        lock (_publishLock)
        {
            if (!_quotes.TryGetValue(quote.Symbol, out var current) || quote.Sequence <= current.Sequence)
            {
                return false;
            }

            Set(quote);
            return true;
        }
    }

    private void Set(Quote quote)
    {
        _quotes[quote.Symbol] = quote;
        foreach (var watcher in _watchers)
        {
            watcher.Writer.TryWrite(quote);
        }
    }

    /// <summary>A live feed of every quote change, until the returned watcher is disposed.</summary>
    public QuoteWatcher Watch()
    {
        var channel = Channel.CreateBounded<Quote>(new BoundedChannelOptions(WatcherCapacity)
        {
            FullMode = BoundedChannelFullMode.DropOldest,
            SingleReader = true,
            // Every write happens under the publish lock.
            SingleWriter = true,
        });
        lock (_watchersLock)
        {
            _watchers = _watchers.Add(channel);
        }

        return new QuoteWatcher(channel.Reader, () =>
        {
            lock (_watchersLock)
            {
                _watchers = _watchers.Remove(channel);
            }
        });
    }

    private static Quote NewQuote(string symbol, double price, double open, Timestamp time, long sequence)
    {
        price = Math.Round(price, 2);
        var spread = Math.Max(0.01, Math.Round(price * 0.0005, 2));
        return new Quote
        {
            Symbol = symbol,
            Price = price,
            Bid = Math.Round(price - spread, 2),
            Ask = Math.Round(price + spread, 2),
            Change = Math.Round(price - open, 2),
            Time = time,
            Sequence = sequence,
        };
    }
}

internal sealed class QuoteWatcher(ChannelReader<Quote> reader, Action dispose) : IDisposable
{
    public ChannelReader<Quote> Reader { get; } = reader;

    public void Dispose() => dispose();
}
