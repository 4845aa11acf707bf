using Commerce.Events;

namespace Commerce.Storage;

/// <summary>
/// Exclusive holds on event consumers, for an <see cref="IEventStore"/> that several processes share (the
/// PostgreSQL store's database): a consumer's events are delivered by the one holder of its lock, and its
/// checkpoint is saved only through that lock, so two host instances never deliver one handler's events at
/// once and a checkpoint never goes back. The event dispatcher takes a handler's lock before it loads the
/// handler's checkpoint when the registered <see cref="IEventStore"/> implements this interface.
/// </summary>
/// <remarks>Every member is thread-safe.</remarks>
public interface IEventConsumerLocks
{
    /// <summary>Takes the lock of <paramref name="consumer"/> if nobody holds it.</summary>
    /// <param name="consumer">The consumer's name: any string of at most <see cref="CheckpointNames.MaxLength"/> characters without U+0000 or an unpaired surrogate.</param>
    /// <param name="cancellationToken">Cancels the attempt (nothing is then held).</param>
    /// <returns>The lock, held until it is disposed or lost; <see langword="null"/> if another holder has it.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="consumer"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="consumer"/> is longer than <see cref="CheckpointNames.MaxLength"/>, or holds U+0000 or an unpaired surrogate.</exception>
    ValueTask<IEventConsumerLock?> TryLockAsync(string consumer, CancellationToken cancellationToken = default);
}

/// <summary>
/// A held lock of one event consumer (see <see cref="IEventConsumerLocks"/>). Disposing it releases the lock;
/// a store may also lose it (the PostgreSQL store does when the connection that holds it breaks), after which
/// every <see cref="SaveCheckpointAsync"/> throws <see cref="EventConsumerLockLostException"/>.
/// </summary>
/// <remarks>One caller at a time: calls on one lock are not to overlap.</remarks>
public interface IEventConsumerLock : IAsyncDisposable
{
    /// <summary>The consumer whose lock this is.</summary>
    string Consumer { get; }

    /// <summary>
    /// Saves the consumer's checkpoint, as <see cref="IEventStore.SaveCheckpointAsync"/> does, if the lock is still held
    /// as the checkpoint is written.
    /// </summary>
    /// <param name="cursor">What the consumer has handled.</param>
    /// <param name="cancellationToken">Cancels the save.</param>
    /// <returns>A task that completes once saved.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="cursor"/> is <see langword="null"/>.</exception>
    /// <exception cref="EventConsumerLockLostException">The lock is no longer held; nothing was saved.</exception>
    /// <exception cref="ObjectDisposedException">The lock was disposed; nothing was saved.</exception>
    ValueTask SaveCheckpointAsync(EventCursor cursor, CancellationToken cancellationToken = default);
}
