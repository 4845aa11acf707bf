using Commerce.Events;

namespace Commerce.Storage;

/// <summary>
/// A store's event log (a transactional outbox): the events of every commit
/// (<see cref="ChangeSet.Events"/>), kept in stripes, and durable checkpoints of the consumers that read
/// them. Register it with the store (<see cref="ICommerceStore"/>); the library's
/// <see cref="ICommerceEventFeed"/> reads through it.
/// </summary>
/// <remarks>
/// <para>
/// A store commits a change set's events atomically with its writes: each event goes to the stripe of its
/// stream (<see cref="EventStream.StripeOf"/> with <see cref="StripeCount"/>) and gets the next number
/// there, in commit order (from 1, no gaps), and several events of one stream in one commit keep the order
/// of <see cref="ChangeSet.Events"/>. A commit that fails writes none.
/// </para>
/// <para>Every member is thread-safe.</para>
/// </remarks>
public interface IEventStore
{
    /// <summary>The number of stripes, from 1 to <see cref="EventCursor.MaxStripes"/>; fixed for the life of the store's data.</summary>
    int StripeCount { get; }

    /// <summary>
    /// Reads at most <paramref name="limit"/> events after <paramref name="after"/>, with their positions set,
    /// merged as <see cref="ICommerceEventFeed"/> documents: oldest first by <see cref="CommerceEvent.At"/>
    /// then stripe, each stripe's in order. Only committed events are read, and a stripe's in a prefix
    /// without gaps.
    /// </summary>
    /// <param name="after">The cursor.</param>
    /// <param name="limit">The most events; positive.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The page.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="after"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="limit"/> is not positive.</exception>
    /// <exception cref="ArgumentException">
    /// <paramref name="after"/> covers an event the store has not committed: one in a stripe it does not have
    /// (<see cref="EventCursorChecks.ThrowIfBeyondStripes"/>), or past a stripe's last number (<see cref="EventCursorChecks.ThrowIfAhead"/>).
    /// </exception>
    ValueTask<EventPage> ReadEventsAsync(EventCursor after, int limit, CancellationToken cancellationToken = default);

    /// <summary>Completes when an event not covered by <paramref name="after"/> exists (at once if one does).</summary>
    /// <param name="after">The cursor.</param>
    /// <param name="cancellationToken">Ends the wait.</param>
    /// <returns>A task.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="after"/> is <see langword="null"/>.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled, also when called cancelled while an event exists.</exception>
    ValueTask WaitForEventsAsync(EventCursor after, CancellationToken cancellationToken = default);

    /// <summary>The checkpoint saved for a consumer, or <see langword="null"/> if none was.</summary>
    /// <param name="consumer">The consumer's name: any string of at most <see cref="CheckpointNames.MaxLength"/> characters without U+0000 or an unpaired surrogate.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The cursor.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="consumer"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="consumer"/> is longer than <see cref="CheckpointNames.MaxLength"/>, or holds U+0000 or an unpaired surrogate (a PostgreSQL <c>text</c> holds neither).</exception>
    ValueTask<EventCursor?> LoadCheckpointAsync(string consumer, CancellationToken cancellationToken = default);

    /// <summary>Saves a consumer's checkpoint (replacing the one saved before), durably as the store's data is.</summary>
    /// <param name="consumer">The consumer's name: any string of at most <see cref="CheckpointNames.MaxLength"/> characters without U+0000 or an unpaired surrogate.</param>
    /// <param name="cursor">What it has handled.</param>
    /// <param name="cancellationToken">Cancels the save.</param>
    /// <returns>A task that completes once saved.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="consumer"/> or <paramref name="cursor"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="consumer"/> is longer than <see cref="CheckpointNames.MaxLength"/>, or holds U+0000 or an unpaired surrogate; nothing is saved.</exception>
    ValueTask SaveCheckpointAsync(string consumer, EventCursor cursor, CancellationToken cancellationToken = default);

    /// <summary>
    /// Removes the events both committed before <paramref name="before"/> (by <see cref="CommerceEvent.At"/>)
    /// and covered by <paramref name="upTo"/>; each stripe loses a prefix (numbers of the rest do not change).
    /// </summary>
    /// <param name="before">Only older events go.</param>
    /// <param name="upTo">Only events covered by this cursor go (what every consumer has handled).</param>
    /// <param name="cancellationToken">Cancels the purge (what was removed stays removed).</param>
    /// <returns>How many events were removed.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="upTo"/> is <see langword="null"/>.</exception>
    ValueTask<long> PurgeEventsAsync(DateTimeOffset before, EventCursor upTo, CancellationToken cancellationToken = default);
}
