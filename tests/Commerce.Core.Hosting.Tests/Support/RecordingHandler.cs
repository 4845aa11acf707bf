using Commerce.Events;

namespace Commerce.Hosting.Tests.Support;

/// <summary>
/// A handler that records every call, then does what <see cref="Behavior"/> says (given the event and
/// how many times it was given it, from 1), and signals the store's waits.
/// </summary>
internal abstract class RecordingHandler(FakeEventStore store) : ICommerceEventHandler
{
    private readonly Lock _lock = new();
    private readonly List<CommerceEvent> _calls = [];

    public Func<CommerceEvent, int, CancellationToken, ValueTask>? Behavior { get; set; }

    public IReadOnlyList<CommerceEvent> Calls
    {
        get
        {
            lock (_lock)
            {
                return [.. _calls];
            }
        }
    }

    public async ValueTask HandleAsync(CommerceEvent @event, CancellationToken cancellationToken)
    {
        int attempt;
        lock (_lock)
        {
            _calls.Add(@event);
            attempt = _calls.Count(c => c.Position == @event.Position);
        }

        store.Changed();
        try
        {
            if (Behavior is { } behavior)
            {
                await behavior(@event, attempt, cancellationToken);
            }
        }
        finally
        {
            store.Changed();
        }
    }
}

internal sealed class HandlerA(FakeEventStore store) : RecordingHandler(store);

internal sealed class HandlerB(FakeEventStore store) : RecordingHandler(store);

/// <summary>The instances of <see cref="ScopedHandler"/> and the events each was given.</summary>
internal sealed class ScopeLog
{
    private readonly Lock _lock = new();
    private readonly List<(Guid Instance, CommerceEvent Event)> _entries = [];

    public IReadOnlyList<(Guid Instance, CommerceEvent Event)> Entries
    {
        get
        {
            lock (_lock)
            {
                return [.. _entries];
            }
        }
    }

    public void Add(Guid instance, CommerceEvent @event)
    {
        lock (_lock)
        {
            _entries.Add((instance, @event));
        }
    }
}

/// <summary>A handler registered by the dispatcher's default (scoped), that logs which instance got each event.</summary>
internal sealed class ScopedHandler(ScopeLog log) : ICommerceEventHandler
{
    private readonly Guid _instance = Guid.NewGuid();

    public ValueTask HandleAsync(CommerceEvent @event, CancellationToken cancellationToken)
    {
        log.Add(_instance, @event);
        return ValueTask.CompletedTask;
    }
}

/// <summary>How many more times <see cref="UnresolvableHandler"/> fails to be constructed.</summary>
internal sealed class ConstructionFailures(int count)
{
    public int Remaining { get; set; } = count;
}

/// <summary>A handler whose construction fails while <see cref="ConstructionFailures"/> says so; it logs its events in the <see cref="ScopeLog"/>.</summary>
internal sealed class UnresolvableHandler : ICommerceEventHandler
{
    private readonly ScopeLog _log;

    public UnresolvableHandler(ConstructionFailures failures, ScopeLog log)
    {
        if (failures.Remaining-- > 0)
        {
            throw new InvalidOperationException("A dependency is down.");
        }

        _log = log;
    }

    public ValueTask HandleAsync(CommerceEvent @event, CancellationToken cancellationToken)
    {
        _log.Add(Guid.Empty, @event);
        return ValueTask.CompletedTask;
    }
}
