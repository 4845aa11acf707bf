using Microsoft.Extensions.Logging;

namespace Commerce.Benchmarks;

/// <summary>
/// Counts commit conflicts without touching the store: the services log every conflicting attempt
/// (event 901, CommitConflict, at Debug) and every exhausted retry (event 902); this logger enables
/// only those levels and counts them.
/// </summary>
internal sealed class ConflictCounter : ILoggerFactory, ILogger
{
    private long _conflicts;
    private long _exhausted;

    public long Conflicts => Interlocked.Read(ref _conflicts);

    public long Exhausted => Interlocked.Read(ref _exhausted);

    public void Reset()
    {
        Interlocked.Exchange(ref _conflicts, 0);
        Interlocked.Exchange(ref _exhausted, 0);
    }

    public ILogger CreateLogger(string categoryName) => this;

    public void AddProvider(ILoggerProvider provider)
    {
    }

    public void Dispose()
    {
    }

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => logLevel is LogLevel.Debug or LogLevel.Warning;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (eventId.Id == 901)
        {
            Interlocked.Increment(ref _conflicts);
        }
        else if (eventId.Id == 902)
        {
            Interlocked.Increment(ref _exhausted);
        }
    }
}
