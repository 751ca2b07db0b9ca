namespace Trading.Backend.Hosting;

internal static partial class BackendLog
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "Trading backend using database {Database}.")]
    public static partial void DatabaseOpened(ILogger logger, string database);

    [LoggerMessage(EventId = 2, Level = LogLevel.Information, Message = "Seeded the demo users.")]
    public static partial void DemoDataSeeded(ILogger logger);

    [LoggerMessage(EventId = 3, Level = LogLevel.Error, Message = "Filling resting limit orders failed; retrying on the next tick.")]
    public static partial void FillFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 4, Level = LogLevel.Information, Message = "This replica holds the market lease and runs the simulator.")]
    public static partial void MarketLeadAcquired(ILogger logger);

    [LoggerMessage(EventId = 5, Level = LogLevel.Warning, Message = "This replica lost the market lease; the simulator stops until it holds it again.")]
    public static partial void MarketLeadLost(ILogger logger);

    [LoggerMessage(EventId = 6, Level = LogLevel.Warning, Message = "Publishing quotes to the other replicas failed; this replica's subscribers keep receiving them.")]
    public static partial void QuoteReplicationFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 7, Level = LogLevel.Warning, Message = "The database ({Database}) is not reachable; the backend stays not ready and retries in {Delay}.")]
    public static partial void DatabaseUnreachable(ILogger logger, string database, TimeSpan delay, Exception exception);

    [LoggerMessage(EventId = 8, Level = LogLevel.Information, Message = "The database schema is in place; the backend is ready.")]
    public static partial void DatabaseReady(ILogger logger);

    [LoggerMessage(EventId = 9, Level = LogLevel.Warning, Message = "Listening for other replicas' commits failed; reconnecting in {Delay}.")]
    public static partial void NotificationsInterrupted(ILogger logger, TimeSpan delay, Exception exception);
}
