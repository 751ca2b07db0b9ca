using Npgsql;

namespace EdgeBridge.FunctionalTests.Replicas;

/// <summary>What the replicas' database has committed, read from the engine itself: the oracle of the failover tests.</summary>
internal static class Committed
{
    /// <summary>The last committed sequence of every event stream (<c>chat/{room}</c>, <c>orders/{account}</c>).</summary>
    public static async Task<Dictionary<string, long>> StreamsAsync(string connectionString)
    {
        await using var connection = new NpgsqlConnection(connectionString + ";Pooling=false");
        await connection.OpenAsync();
        await using var query = new NpgsqlCommand("SELECT stream, MAX(sequence) FROM events GROUP BY stream", connection);
        await using var reader = await query.ExecuteReaderAsync();
        var streams = new Dictionary<string, long>(StringComparer.Ordinal);
        while (await reader.ReadAsync())
        {
            streams[reader.GetString(0)] = reader.GetInt64(1);
        }

        return streams;
    }
}
