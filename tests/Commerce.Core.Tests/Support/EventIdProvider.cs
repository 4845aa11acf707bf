using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Commerce.Tests.Support;

/// <summary>A logger provider that records the event id of every message logged, at every level, in order.</summary>
internal sealed class EventIdProvider(ConcurrentQueue<int> events) : ILoggerProvider
{
    public ILogger CreateLogger(string categoryName) => new Logger(events);

    public void Dispose()
    {
    }

    private sealed class Logger(ConcurrentQueue<int> events) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            events.Enqueue(eventId.Id);
    }
}
