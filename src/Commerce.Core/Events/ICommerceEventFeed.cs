namespace Commerce.Events;

/// <summary>
/// Reads the events the shop committed (see <see cref="CommerceEvent"/>), after a cursor, in bounded pages.
/// </summary>
/// <remarks>
/// <para>
/// Order: the events of one stream (a user, a product) come in the order they were committed, on every
/// read by every consumer. Across streams there is no global order: each store keeps its events in
/// stripes (a stream's in one), so that commits do not all contend on one counter: only commits whose
/// streams share a stripe meet on its number. A page
/// merges the stripes oldest first by <see cref="CommerceEvent.At"/> (then by stripe), taking each
/// stripe's events in order.
/// </para>
/// <para>
/// Completeness: every committed event is read exactly once by a consumer that reads page after page
/// from <see cref="EventCursor.Start"/> (or from a saved cursor), unless it was purged first.
/// </para>
/// </remarks>
public interface ICommerceEventFeed
{
    /// <summary>Reads the next events after <paramref name="after"/>.</summary>
    /// <param name="after">What the consumer has read already (<see cref="EventCursor.Start"/> for everything).</param>
    /// <param name="limit">The most events; from 1 to 1000.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The page; empty (with <paramref name="after"/> as its next cursor) if nothing is new.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="after"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="limit"/> is outside [1, 1000].</exception>
    /// <exception cref="ArgumentException">
    /// <paramref name="after"/> covers events the store has not committed (in a stripe it does not have, or past a
    /// stripe's last event): a cursor of another store, or of data since lost (an in-memory store restarted, a
    /// database restored from an older backup). Read on, it would skip the events up to it without a sign.
    /// </exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled before the page was read.</exception>
    /// <exception cref="InvalidOperationException">
    /// No store that keeps events is registered: no store at all (call a store method on the builder <c>AddCommerce</c>
    /// returns, for example <c>UseInMemoryStore()</c>), or one that registers no <see cref="Storage.IEventStore"/>. The feed
    /// resolves without one, unlike the services, so its first call is where such a host finds out.
    /// </exception>
    /// <exception cref="ObjectDisposedException">The store was disposed (with its service provider).</exception>
    ValueTask<EventPage> ReadAsync(EventCursor after, int limit = 100, CancellationToken cancellationToken = default);

    /// <summary>
    /// Waits until an event not covered by <paramref name="after"/> exists, without polling in a tight
    /// loop: at once if one does already.
    /// </summary>
    /// <param name="after">
    /// What the consumer has read already. A cursor ahead of the store's events is not refused here (the wait
    /// then ends with the next event of another stripe); the read after the wait refuses it.
    /// </param>
    /// <param name="cancellationToken">Ends the wait (with <see cref="OperationCanceledException"/>).</param>
    /// <returns>A task that completes when there is something to read.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="after"/> is null.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled before or during the wait.</exception>
    /// <exception cref="InvalidOperationException">
    /// No store that keeps events is registered: no store at all (call a store method on the builder <c>AddCommerce</c>
    /// returns, for example <c>UseInMemoryStore()</c>), or one that registers no <see cref="Storage.IEventStore"/>. The feed
    /// resolves without one, unlike the services, so its first call is where such a host finds out.
    /// </exception>
    /// <exception cref="ObjectDisposedException">
    /// The store was disposed (with its service provider) before the wait or while it waited: a wait is never
    /// left pending by a store that will commit nothing more.
    /// </exception>
    ValueTask WaitAsync(EventCursor after, CancellationToken cancellationToken = default);
}
