using Grpc.Core;
using Trading.Backend.Hosting;
using Trading.V1;

namespace Trading.Backend.Market;

internal sealed class MarketDataGrpcService(QuoteBook book, StreamLifetime lifetime) : MarketDataService.MarketDataServiceBase
{
    public override Task<GetQuoteResponse> GetQuote(GetQuoteRequest request, ServerCallContext context) =>
        Task.FromResult(new GetQuoteResponse { Quote = Find(request.Symbol) });

    public override Task<ListSymbolsResponse> ListSymbols(ListSymbolsRequest request, ServerCallContext context) =>
        Task.FromResult(new ListSymbolsResponse { Symbols = { book.Symbols } });

    public override async Task StreamQuotes(StreamQuotesRequest request, IServerStreamWriter<StreamQuotesResponse> responseStream, ServerCallContext context)
    {
        var wanted = request.Symbols.Count == 0
            ? book.Symbols.Select(s => s.Symbol).ToHashSet(StringComparer.Ordinal)
            : request.Symbols.ToHashSet(StringComparer.Ordinal);
        foreach (var symbol in wanted)
        {
            Find(symbol);
        }

        await lifetime.RunAsync(context, async cancellationToken =>
        {
            // Watch before taking the snapshot so that no change between the two is missed; a change seen in both
            // is skipped by its sequence.
            using var watcher = book.Watch();
            var sent = new Dictionary<string, long>(StringComparer.Ordinal);
            foreach (var symbol in wanted.Order(StringComparer.Ordinal))
            {
                var quote = Find(symbol);
                sent[symbol] = quote.Sequence;
                await responseStream.WriteAsync(new StreamQuotesResponse { Quote = quote }, cancellationToken);
            }

            await foreach (var quote in watcher.Reader.ReadAllAsync(cancellationToken))
            {
                if (sent.TryGetValue(quote.Symbol, out var last) && quote.Sequence > last)
                {
                    sent[quote.Symbol] = quote.Sequence;
                    await responseStream.WriteAsync(new StreamQuotesResponse { Quote = quote }, cancellationToken);
                }
            }
        });
    }

    private Quote Find(string symbol) => book.TryGet(symbol, out var quote)
        ? quote
        : throw new Google.Rpc.Status
        {
            Code = (int)Google.Rpc.Code.NotFound,
            Message = $"Symbol '{symbol}' is not listed.",
            // Rich details travel in grpc-status-details-bin, so clients on every transport can tell which symbol.
            Details =
            {
                Google.Protobuf.WellKnownTypes.Any.Pack(new Google.Rpc.ResourceInfo
                {
                    ResourceType = "trading.v1.Symbol",
                    ResourceName = symbol,
                    Description = "GET /v1/symbols lists the tradable symbols.",
                }),
            },
        }.ToRpcException();
}
