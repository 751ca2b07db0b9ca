using System.Text;
using Google.Protobuf;
using Npgsql;
using Trading.Backend.Market;
using Trading.V1;

namespace Trading.Backend.Storage.PostgreSql;

/// <summary>
/// The market leader's quotes for the other replicas: each tick is written to the <c>quotes</c> table (the
/// next leader's starting point) and announced with <c>NOTIFY</c> in the same transaction.
/// </summary>
/// <remarks>
/// A notification's payload is this replica's id and the tick's quotes, protobuf in base64; PostgreSQL limits
/// a payload to 8000 bytes, so a large tick is split over several notifications.
/// </remarks>
internal sealed class PostgresQuoteReplication(PostgresDatabase database) : IQuoteReplication
{
    private const int MaxPayloadChars = 7900;

    public async Task PublishAsync(IReadOnlyList<Quote> quotes, CancellationToken cancellationToken)
    {
        var symbols = new string[quotes.Count];
        var sequences = new long[quotes.Count];
        var payloads = new byte[quotes.Count][];
        for (var i = 0; i < quotes.Count; i++)
        {
            (symbols[i], sequences[i], payloads[i]) = (quotes[i].Symbol, quotes[i].Sequence, quotes[i].ToByteArray());
        }

        await using var connection = await database.DataSource.OpenConnectionAsync(cancellationToken);
        await using var batch = new NpgsqlBatch(connection);
        batch.BatchCommands.Add(new NpgsqlBatchCommand(
            """
            INSERT INTO quotes (symbol, sequence, quote) SELECT * FROM unnest(@symbols, @sequences, @quotes)
            WHERE EXISTS (SELECT 1 FROM market_lease WHERE id = 1 AND holder = @replica)
            ON CONFLICT (symbol) DO UPDATE SET sequence = excluded.sequence, quote = excluded.quote
            WHERE quotes.sequence < excluded.sequence
            """)
        {
            Parameters =
            {
                new NpgsqlParameter("symbols", symbols),
                new NpgsqlParameter("sequences", sequences),
                new NpgsqlParameter("quotes", payloads),
                new NpgsqlParameter("replica", database.ReplicaId),
            },
        });
        // Fenced by the lease: a leader that hung and was replaced publishes nothing when it wakes.
        foreach (var payload in Payloads(payloads))
        {
            batch.BatchCommands.Add(new NpgsqlBatchCommand(
                $"SELECT pg_notify('{PostgresDatabase.QuotesChannel}', @payload) WHERE EXISTS (SELECT 1 FROM market_lease WHERE id = 1 AND holder = @replica)")
            {
                Parameters = { new NpgsqlParameter("payload", payload), new NpgsqlParameter("replica", database.ReplicaId) },
            });
        }

        // A batch runs as one implicit transaction: the table and the notifications commit together.
        await batch.ExecuteNonQueryAsync(cancellationToken);
    }

    public async Task<IReadOnlyList<Quote>> ReadLatestAsync(CancellationToken cancellationToken)
    {
        await using var command = database.DataSource.CreateCommand("SELECT quote FROM quotes");
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var quotes = new List<Quote>();
        while (await reader.ReadAsync(cancellationToken))
        {
            quotes.Add(Quote.Parser.ParseFrom((byte[])reader.GetValue(0)));
        }

        return quotes;
    }

    /// <summary>The quotes of a notification from another replica; none for this replica's own.</summary>
    public IEnumerable<Quote> Parse(string payload)
    {
        var separator = payload.IndexOf('|', StringComparison.Ordinal);
        if (separator < 0 || payload.AsSpan(0, separator).SequenceEqual(database.ReplicaId))
        {
            yield break;
        }

        foreach (var part in payload[(separator + 1)..].Split(',', StringSplitOptions.RemoveEmptyEntries))
        {
            yield return Quote.Parser.ParseFrom(Convert.FromBase64String(part));
        }
    }

    private IEnumerable<string> Payloads(byte[][] quotes)
    {
        var payload = new StringBuilder(database.ReplicaId).Append('|');
        var empty = payload.Length;
        foreach (var quote in quotes)
        {
            var encoded = Convert.ToBase64String(quote);
            if (payload.Length > empty && payload.Length + 1 + encoded.Length > MaxPayloadChars)
            {
                yield return payload.ToString();
                payload.Length = empty;
            }

            payload.Append(encoded).Append(',');
        }

        if (payload.Length > empty)
        {
            yield return payload.ToString();
        }
    }
}
