using Commerce.Events;
using Commerce.Storage;

namespace Commerce.Hosting.Tests.Support;

/// <summary>
/// An <see cref="IEventStore"/> kept in lists, one per stripe, that records every call and fails the calls
/// a test tells it to (<see cref="Fault"/>). Every change completes the current <see cref="Until"/> waits.
/// Disposed (by a container that created it), it refuses every save, as a store whose connections are closed does.
/// </summary>
internal sealed class FakeEventStore(int stripeCount = 4) : IEventStore, IDisposable
{
    private readonly Lock _lock = new();
    private readonly List<CommerceEvent>[] _stripes = [.. Enumerable.Range(0, stripeCount).Select(_ => new List<CommerceEvent>())];
    private readonly Dictionary<string, EventCursor> _checkpoints = [];
    private readonly List<(string Consumer, EventCursor Cursor)> _saves = [];
    private readonly List<(DateTimeOffset Before, EventCursor UpTo)> _purges = [];
    private TaskCompletionSource _changed = NewSignal();
    private int _reads;
    private int _waiting;
    private bool _disposed;
    private int _savesInProgress;
    private int _savesAfterDispose;

    public int StripeCount => stripeCount;

    /// <summary>Called with the operation's name ("load", "save", "read", "wait", "purge") before it runs; an exception returned is thrown.</summary>
    public Func<string, Exception?>? Fault { get; set; }

    /// <summary>Rewrites each page read (to hand the dispatcher what no correct store would).</summary>
    public Func<EventPage, EventPage>? Tamper { get; set; }

    public int Reads { get { lock (_lock) { return _reads; } } }

    /// <summary>How many <see cref="WaitForEventsAsync"/> calls are pending.</summary>
    public int Waiting { get { lock (_lock) { return _waiting; } } }

    public IReadOnlyList<(string Consumer, EventCursor Cursor)> Saves { get { lock (_lock) { return [.. _saves]; } } }

    /// <summary>Awaited by each save once it is under way, with the save's token: holds saves in progress while a test acts.</summary>
    public Func<CancellationToken, Task>? SaveGate { get; set; }

    /// <summary>How many saves are under way.</summary>
    public int SavesInProgress { get { lock (_lock) { return _savesInProgress; } } }

    /// <summary>How many saves met the store disposed: called once it was, or under way when it was.</summary>
    public int SavesAfterDispose { get { lock (_lock) { return _savesAfterDispose; } } }

    public bool IsDisposed { get { lock (_lock) { return _disposed; } } }

    public IReadOnlyList<(DateTimeOffset Before, EventCursor UpTo)> Purges { get { lock (_lock) { return [.. _purges]; } } }

    public EventCursor? Checkpoint(string consumer)
    {
        lock (_lock)
        {
            return _checkpoints.GetValueOrDefault(consumer);
        }
    }

    /// <summary>Commits events, each at the end of its stream's stripe; returns them with their positions.</summary>
    public IReadOnlyList<CommerceEvent> Append(params CommerceEvent[] events)
    {
        var stored = new List<CommerceEvent>();
        lock (_lock)
        {
            foreach (var @event in events)
            {
                var stripe = @event.Stream.StripeOf(stripeCount);
                var positioned = @event with { Position = new EventPosition(stripe, _stripes[stripe].Count + 1) };
                _stripes[stripe].Add(positioned);
                stored.Add(positioned);
            }
        }

        Changed();
        return stored;
    }

    /// <summary>The cursor covering every event appended so far.</summary>
    public EventCursor End
    {
        get
        {
            lock (_lock)
            {
                var cursor = EventCursor.Start;
                for (var stripe = 0; stripe < stripeCount; stripe++)
                {
                    if (_stripes[stripe].Count > 0)
                    {
                        cursor = cursor.Through(new EventPosition(stripe, _stripes[stripe].Count));
                    }
                }

                return cursor;
            }
        }
    }

    /// <summary>Completes once <paramref name="condition"/> holds (checked after every change), or fails after 10 s as a safety net.</summary>
    public async Task Until(Func<bool> condition)
    {
        var deadline = Task.Delay(TimeSpan.FromSeconds(10));
        while (true)
        {
            Task changed;
            lock (_lock)
            {
                changed = _changed.Task;
            }

            if (condition())
            {
                return;
            }

            if (await Task.WhenAny(changed, deadline) == deadline)
            {
                Assert.Fail("The condition did not come true.");
            }
        }
    }

    /// <summary>Completes the current <see cref="Until"/> waits (for changes made outside the store).</summary>
    public void Changed()
    {
        TaskCompletionSource changed;
        lock (_lock)
        {
            changed = _changed;
            _changed = NewSignal();
        }

        changed.TrySetResult();
    }

    public ValueTask<EventPage> ReadEventsAsync(EventCursor after, int limit, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        try
        {
            Throw("read");
            lock (_lock)
            {
                _reads++;
                var events = _stripes.SelectMany(s => s)
                    .Where(e => !after.Covers(e.Position))
                    .OrderBy(e => e.At).ThenBy(e => e.Position.Stripe).ThenBy(e => e.Position.Sequence)
                    .Take(limit)
                    .ToList();
                var next = events.Aggregate(after, (cursor, e) => cursor.Through(e.Position));
                var page = new EventPage(events, next);
                return ValueTask.FromResult(Tamper?.Invoke(page) ?? page);
            }
        }
        finally
        {
            Changed();
        }
    }

    public async ValueTask WaitForEventsAsync(EventCursor after, CancellationToken cancellationToken = default)
    {
        Throw("wait");
        lock (_lock)
        {
            if (HasEventsAfter(after))
            {
                return;
            }

            _waiting++;
        }

        try
        {
            Changed();
            while (true)
            {
                Task changed;
                lock (_lock)
                {
                    if (HasEventsAfter(after))
                    {
                        return;
                    }

                    changed = _changed.Task;
                }

                await changed.WaitAsync(cancellationToken);
            }
        }
        finally
        {
            lock (_lock)
            {
                _waiting--;
            }
        }
    }

    private bool HasEventsAfter(EventCursor after) => _stripes.SelectMany(s => s).Any(e => !after.Covers(e.Position));

    public ValueTask<EventCursor?> LoadCheckpointAsync(string consumer, CancellationToken cancellationToken = default)
    {
        Throw("load");
        lock (_lock)
        {
            return ValueTask.FromResult(_checkpoints.GetValueOrDefault(consumer));
        }
    }

    public async ValueTask SaveCheckpointAsync(string consumer, EventCursor cursor, CancellationToken cancellationToken = default)
    {
        // As a store does: a save asked for under a token cancelled already is not made.
        cancellationToken.ThrowIfCancellationRequested();
        Throw("save");
        lock (_lock)
        {
            ThrowIfDisposed();
            _savesInProgress++;
        }

        try
        {
            Changed();
            if (SaveGate is { } gate)
            {
                await gate(cancellationToken);
            }

            lock (_lock)
            {
                ThrowIfDisposed();
                _checkpoints[consumer] = cursor;
                _saves.Add((consumer, cursor));
            }
        }
        finally
        {
            lock (_lock)
            {
                _savesInProgress--;
            }

            Changed();
        }
    }

    /// <summary>Under the lock: a save that meets the store disposed is counted, and refused.</summary>
    private void ThrowIfDisposed()
    {
        if (_disposed)
        {
            _savesAfterDispose++;
            throw new ObjectDisposedException(nameof(FakeEventStore));
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            _disposed = true;
        }

        Changed();
    }

    public ValueTask<long> PurgeEventsAsync(DateTimeOffset before, EventCursor upTo, CancellationToken cancellationToken = default)
    {
        Throw("purge");
        lock (_lock)
        {
            _purges.Add((before, upTo));
        }

        Changed();
        return ValueTask.FromResult(PurgeCount);
    }

    /// <summary>How many events each purge reports it removed (it removes none).</summary>
    public long PurgeCount { get; set; }

    private void Throw(string operation)
    {
        if (Fault?.Invoke(operation) is { } exception)
        {
            Changed();
            throw exception;
        }
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
