using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace EdgeBridge.FunctionalTests.Common;

/// <summary>An <see cref="ILoggerProvider"/> that keeps every entry with its structured values, for assertions.</summary>
public sealed class LogCollector : ILoggerProvider
{
    private readonly ConcurrentQueue<LogEntry> _entries = new();

    public IReadOnlyList<LogEntry> Entries => [.. _entries];

    public ILogger CreateLogger(string categoryName) => new Logger(categoryName, _entries);

    public void Dispose()
    {
    }

    private sealed class Logger(string category, ConcurrentQueue<LogEntry> entries) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            var values = state as IReadOnlyList<KeyValuePair<string, object?>> ?? [];
            entries.Enqueue(new LogEntry(category, logLevel, eventId, formatter(state, exception),
                values.ToDictionary(v => v.Key, v => v.Value?.ToString(), StringComparer.Ordinal), exception?.ToString()));
        }
    }
}

public sealed record LogEntry(string Category, LogLevel Level, EventId EventId, string Message, IReadOnlyDictionary<string, string?> Values, string? Exception);
