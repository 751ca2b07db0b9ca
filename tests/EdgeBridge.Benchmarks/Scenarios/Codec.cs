using System.Diagnostics;
using System.Globalization;
using System.Text;
using EdgeBridge.Contracts;
using EdgeBridge.Contracts.Dynamic;
using Google.Protobuf;
using Google.Protobuf.Reflection;

namespace EdgeBridge.Benchmarks.Scenarios;

internal sealed record CodecResult(string Message, string Operation, string Codec, int Round, double MicrosPerMessage, double BytesAllocatedPerMessage);

/// <summary>
/// The descriptor-driven codec (contracts loaded at run time, no generated classes) against the generated code the
/// compiled contract uses, on one thread: protobuf bytes to the JSON every subscriber receives (fan-out pays it once
/// per upstream message, REST once per response) and JSON to protobuf bytes (once per REST or Connect request).
/// CPU time per message (the process's: its collections included), and bytes allocated.
/// </summary>
internal static class Codec
{
    public static List<CodecResult> Run(Options options)
    {
        var files = new[] { Trading.V1.MarketDataReflection.Descriptor, Trading.V1.TradingReflection.Descriptor };
        var generated = new ProtoJson(TypeRegistry.FromFiles(files));
        var loaded = DescriptorSets.Rebuild(files);
        var codec = new DescriptorCodec(loaded);
        MessageDescriptor Loaded(MessageDescriptor type) => loaded.SelectMany(f => f.MessageTypes).Single(t => t.FullName == type.FullName);

        var quote = new Trading.V1.StreamQuotesResponse
        {
            Quote = new Trading.V1.Quote { Symbol = "ACME", Price = 101.25, Bid = 101.2, Ask = 101.3, Change = -0.42, Sequence = 123456, Time = Google.Protobuf.WellKnownTypes.Timestamp.FromDateTime(DateTime.UtcNow) },
        };
        var portfolio = new Trading.V1.GetPortfolioResponse
        {
            Portfolio = new Trading.V1.Portfolio { AccountId = "acc-alice", Cash = 100_000.5, MarketValue = 25_000, Equity = 125_000.5, AsOf = Google.Protobuf.WellKnownTypes.Timestamp.FromDateTime(DateTime.UtcNow) },
        };
        for (var i = 0; i < 10; i++)
        {
            portfolio.Portfolio.Positions.Add(new Trading.V1.Position { Symbol = "SYM" + i, Quantity = 10 * i, AveragePrice = 12.5 + i, LastPrice = 13 + i, MarketValue = 130 * i, UnrealizedPnl = 5 * i });
        }

        var order = new Trading.V1.PlaceOrderRequest { AccountId = "acc-alice", Symbol = "ACME", Side = Trading.V1.OrderSide.Buy, Quantity = 10, Type = Trading.V1.OrderType.Limit, LimitPrice = 101.5, ClientOrderId = "bench-1" };

        var cases = new List<(string Message, string Operation, string Codec, Func<byte[]> Work)>();
        foreach (var message in new IMessage[] { quote, portfolio })
        {
            var bytes = message.ToByteArray();
            var parser = message.Descriptor.Parser;
            var type = Loaded(message.Descriptor);
            var name = message.Descriptor.Name;
            cases.Add((name, "binary → JSON", "generated", () => generated.FormatUtf8(parser.ParseFrom(bytes))));
            cases.Add((name, "binary → JSON", "descriptors", () => codec.BinaryToJson(type, bytes)));
        }

        foreach (var message in new IMessage[] { order, portfolio })
        {
            var json = generated.FormatUtf8(message);
            var text = Encoding.UTF8.GetString(json);
            var type = Loaded(message.Descriptor);
            var descriptor = message.Descriptor;
            var name = message.Descriptor.Name;
            cases.Add((name, "JSON → binary", "generated", () => generated.Parser.Parse(text, descriptor).ToByteArray()));
            cases.Add((name, "JSON → binary", "descriptors", () => codec.JsonToBinary(type, json)));
        }

        // Both must agree before either is timed.
        foreach (var pair in cases.Chunk(2))
        {
            if (!pair[0].Work().AsSpan().SequenceEqual(pair[1].Work()))
            {
                throw new InvalidOperationException($"The codecs disagree on {pair[0].Message} {pair[0].Operation}.");
            }
        }

        var results = new List<CodecResult>();
        var iterations = options.Smoke ? 200 : 200_000;
        for (var round = 1; round <= options.Rounds; round++)
        {
            foreach (var (message, operation, name, work) in cases)
            {
                for (var i = 0; i < iterations / 10; i++)
                {
                    work();
                }

                var allocated = GC.GetAllocatedBytesForCurrentThread();
                var cpu = ThreadCpu();
                for (var i = 0; i < iterations; i++)
                {
                    work();
                }

                var micros = (ThreadCpu() - cpu).TotalMicroseconds / iterations;
                var bytes = (GC.GetAllocatedBytesForCurrentThread() - allocated) / (double)iterations;
                results.Add(new CodecResult(message, operation, name, round, micros, bytes));
                Console.Error.WriteLine($"codec round {round} {message} {operation} {name}: {micros:F2} µs, {bytes:F0} B allocated");
            }
        }

        return results;
    }

    public static string Markdown(List<CodecResult> results)
    {
        var text = new StringBuilder();
        text.AppendLine("## The descriptor-driven codec beside generated code (one thread, per message)").AppendLine();
        text.AppendLine("For an edge that loads its contracts at run time there are no generated classes: the codec works from descriptors");
        text.AppendLine("(`Contracts/Dynamic`). Each row is the median of the rounds; `generated` parses the bytes into the generated class and");
        text.AppendLine("formats it as the edge does today (`ProtoJson.FormatUtf8`), or parses JSON with `JsonParser` and serializes it.").AppendLine();
        text.AppendLine("| message | operation | codec | CPU µs/msg | allocated B/msg |");
        text.AppendLine("|---|---|---|---:|---:|");
        var medians = results.GroupBy(r => (r.Message, r.Operation, r.Codec))
            .Select(g => (g.Key, Micros: Median(g.Select(r => r.MicrosPerMessage)), Bytes: Median(g.Select(r => r.BytesAllocatedPerMessage))))
            .ToList();
        foreach (var (key, micros, bytes) in medians)
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"| {key.Message} | {key.Operation} | {key.Codec} | {micros:F2} | {bytes:N0} |");
        }

        text.AppendLine();
        var ratios = medians.GroupBy(m => (m.Key.Message, m.Key.Operation))
            .Select(g => $"{g.Key.Message} {g.Key.Operation} {g.Single(m => m.Key.Codec == "descriptors").Micros / g.Single(m => m.Key.Codec == "generated").Micros:F2}×");
        text.AppendLine("Descriptors / generated, CPU per message: " + string.Join("; ", ratios) + ".").AppendLine();
        return text.ToString();
    }

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted[sorted.Length / 2];
    }

    // The process's CPU: with workstation, non-concurrent GC the collections this loop causes run on this thread too.
    private static TimeSpan ThreadCpu() => Process.GetCurrentProcess().TotalProcessorTime;
}
