using Microsoft.Extensions.Options;
using Npgsql;
using Trading.Backend.Feed;
using Trading.Backend.Hosting;
using Trading.Backend.Market;

namespace Trading.Backend.Storage.PostgreSql;

/// <summary>
/// One connection per replica that <c>LISTEN</c>s for the other replicas' commits: an event stream's name
/// wakes its followers here, a quote tick reaches this replica's quote book.
/// </summary>
/// <remarks>
/// Notifications only say "something committed"; the data is read from the tables. So after the connection
/// breaks — a PostgreSQL restart — this replica wakes every follower and reloads the quotes, and nothing
/// committed meanwhile is missed.
/// </remarks>
internal sealed class PostgresNotificationListener(
    PostgresDatabase database,
    DatabaseEventFeed feed,
    QuoteBook quotes,
    PostgresQuoteReplication replication,
    IOptions<BackendOptions> options,
    TimeProvider time,
    ILogger<PostgresNotificationListener> logger) : BackgroundService
{
    // A silent network can leave a connection open with nobody at the other end; a check every so often finds out.
    private static readonly TimeSpan s_keepAlive = TimeSpan.FromSeconds(15);
    private readonly TaskCompletionSource _listening = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes when this replica first listens: from then on, no other replica's commit goes unnoticed.</summary>
    public Task Listening => _listening.Task;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var retry = options.Value.Database.RetryInterval;
        // Until the schema is in place there is nothing to read (and no replica commits anything).
        while (!database.IsReady)
        {
            await Task.Delay(retry, time, stoppingToken);
        }

        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await using var connection = await database.DataSource.OpenConnectionAsync(stoppingToken);
                connection.Notification += OnNotification;
                await using (var listen = new NpgsqlCommand($"LISTEN {PostgresDatabase.EventsChannel}; LISTEN {PostgresDatabase.QuotesChannel}", connection))
                {
                    await listen.ExecuteNonQueryAsync(stoppingToken);
                }

                // Whatever committed while nobody listened is in the tables.
                feed.PublishedAll();
                foreach (var quote in await replication.ReadLatestAsync(stoppingToken))
                {
                    quotes.Apply(quote);
                }

                _listening.TrySetResult();
                while (true)
                {
                    if (!await connection.WaitAsync(s_keepAlive, stoppingToken))
                    {
                        await using var ping = new NpgsqlCommand("SELECT 1", connection);
                        await ping.ExecuteScalarAsync(stoppingToken);
                    }
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is NpgsqlException or TimeoutException or InvalidOperationException)
            {
                BackendLog.NotificationsInterrupted(logger, retry, ex);
            }

            await Task.Delay(retry, time, stoppingToken);
        }
    }

    private void OnNotification(object sender, NpgsqlNotificationEventArgs e)
    {
        if (e.Channel == PostgresDatabase.EventsChannel)
        {
            feed.Published(e.Payload);
        }
        else if (e.Channel == PostgresDatabase.QuotesChannel)
        {
            foreach (var quote in replication.Parse(e.Payload))
            {
                quotes.Apply(quote);
            }
        }
    }
}
