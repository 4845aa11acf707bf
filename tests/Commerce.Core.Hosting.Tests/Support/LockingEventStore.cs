using Commerce.Events;
using Commerce.Storage;

namespace Commerce.Hosting.Tests.Support;

/// <summary>
/// The consumer locks of one shared database, as several host instances see them: a name is held by one
/// <see cref="LockingEventStore"/>'s lock at a time. <see cref="Break"/> ends a holder's session (its lock is lost,
/// the name free), as the server does when a connection breaks.
/// </summary>
internal sealed class ConsumerLockTable(FakeEventStore store)
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, LockingEventStore.HeldLock> _held = [];

    public FakeEventStore Store => store;

    /// <summary>Thrown by every release (the lock stays held, as by a connection whose unlock failed), unless <see langword="null"/>.</summary>
    public Exception? ReleaseFault { get; set; }

    /// <summary>Every lock taken, in order.</summary>
    public List<LockingEventStore.HeldLock> Taken { get; } = [];

    public LockingEventStore.HeldLock? Holder(string consumer)
    {
        lock (_lock)
        {
            return _held.GetValueOrDefault(consumer);
        }
    }

    public LockingEventStore.HeldLock? TryTake(LockingEventStore owner, string consumer)
    {
        LockingEventStore.HeldLock? taken = null;
        lock (_lock)
        {
            if (!_held.ContainsKey(consumer))
            {
                taken = new LockingEventStore.HeldLock(this, owner, consumer);
                _held[consumer] = taken;
                Taken.Add(taken);
            }
        }

        store.Changed();
        return taken;
    }

    /// <summary>Frees the name if <paramref name="held"/> holds it.</summary>
    public void Release(LockingEventStore.HeldLock held)
    {
        lock (_lock)
        {
            if (_held.GetValueOrDefault(held.Consumer) == held)
            {
                _held.Remove(held.Consumer);
            }
        }

        store.Changed();
    }

    /// <summary>Loses the lock that holds <paramref name="consumer"/> (its next save fails) and frees the name.</summary>
    public void Break(string consumer)
    {
        var held = Holder(consumer) ?? throw new InvalidOperationException($"Nobody holds {consumer}.");
        held.Lost = true;
        Release(held);
    }
}

/// <summary>A <see cref="FakeEventStore"/> seen by one host instance, with the consumer locks of <see cref="ConsumerLockTable"/>.</summary>
internal sealed class LockingEventStore(ConsumerLockTable table) : IEventStore, IEventConsumerLocks
{
    private FakeEventStore Store => table.Store;

    public int StripeCount => Store.StripeCount;

    /// <summary>Called before each attempt to take a lock; an exception returned is thrown.</summary>
    public Func<Exception?>? LockFault { get; set; }

    public ValueTask<IEventConsumerLock?> TryLockAsync(string consumer, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (LockFault?.Invoke() is { } fault)
        {
            throw fault;
        }

        return new(table.TryTake(this, consumer));
    }

    public ValueTask<EventPage> ReadEventsAsync(EventCursor after, int limit, CancellationToken cancellationToken = default) =>
        Store.ReadEventsAsync(after, limit, cancellationToken);

    public ValueTask WaitForEventsAsync(EventCursor after, CancellationToken cancellationToken = default) =>
        Store.WaitForEventsAsync(after, cancellationToken);

    public ValueTask<EventCursor?> LoadCheckpointAsync(string consumer, CancellationToken cancellationToken = default) =>
        Store.LoadCheckpointAsync(consumer, cancellationToken);

    /// <summary>A save outside any lock: the dispatcher, holding locks, never makes one.</summary>
    public ValueTask SaveCheckpointAsync(string consumer, EventCursor cursor, CancellationToken cancellationToken = default) =>
        throw new InvalidOperationException("A checkpoint saved without its consumer's lock.");

    public ValueTask<long> PurgeEventsAsync(DateTimeOffset before, EventCursor upTo, CancellationToken cancellationToken = default) =>
        Store.PurgeEventsAsync(before, upTo, cancellationToken);

    /// <summary>A lock of <see cref="ConsumerLockTable"/>.</summary>
    internal sealed class HeldLock(ConsumerLockTable table, LockingEventStore owner, string consumer) : IEventConsumerLock
    {
        public string Consumer => consumer;

        public LockingEventStore Owner => owner;

        public volatile bool Lost;

        public bool Disposed { get; private set; }

        /// <summary>How many saves went through this lock.</summary>
        public int Saves { get; private set; }

        public async ValueTask SaveCheckpointAsync(EventCursor cursor, CancellationToken cancellationToken = default)
        {
            ObjectDisposedException.ThrowIf(Disposed, this);
            if (Lost)
            {
                throw new EventConsumerLockLostException();
            }

            await table.Store.SaveCheckpointAsync(consumer, cursor, cancellationToken);
            Saves++;
        }

        public ValueTask DisposeAsync()
        {
            Disposed = true;
            if (table.ReleaseFault is { } fault)
            {
                return ValueTask.FromException(fault);
            }

            table.Release(this);
            return ValueTask.CompletedTask;
        }
    }
}
