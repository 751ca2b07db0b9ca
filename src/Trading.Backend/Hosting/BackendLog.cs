namespace Trading.Backend.Hosting;

internal static partial class BackendLog
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "Trading backend using database {Path}.")]
    public static partial void DatabaseOpened(ILogger logger, string path);

    [LoggerMessage(EventId = 2, Level = LogLevel.Information, Message = "Seeded the demo users.")]
    public static partial void DemoDataSeeded(ILogger logger);

    [LoggerMessage(EventId = 3, Level = LogLevel.Error, Message = "Filling resting limit orders failed; retrying on the next tick.")]
    public static partial void FillFailed(ILogger logger, Exception exception);
}
