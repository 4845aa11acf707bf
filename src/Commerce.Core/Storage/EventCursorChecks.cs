using Commerce.Events;

namespace Commerce.Storage;

/// <summary>
/// The checks every <see cref="IEventStore"/> makes of a cursor it reads after, with the library's messages:
/// a cursor must not cover an event the store has not committed.
/// </summary>
/// <remarks>
/// Such a cursor comes from another store, or from data since lost (an in-memory store restarted, a database
/// restored from an older backup). Read on, its consumer would skip the events up to it without a sign, so a
/// store refuses it. A cursor the store gave out is never ahead: a stripe's numbers only grow, and a purge
/// removes events, not their numbers.
/// </remarks>
public static class EventCursorChecks
{
    /// <summary>Refuses a cursor that names a stripe a store of <paramref name="stripeCount"/> stripes does not have.</summary>
    /// <param name="after">The cursor read after.</param>
    /// <param name="stripeCount">The store's <see cref="IEventStore.StripeCount"/>.</param>
    /// <exception cref="ArgumentNullException"><paramref name="after"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">The cursor covers an event in a stripe numbered <paramref name="stripeCount"/> or above.</exception>
    public static void ThrowIfBeyondStripes(EventCursor after, int stripeCount)
    {
        ArgumentNullException.ThrowIfNull(after);
        if (after.StripeSpan > stripeCount)
        {
            var stripe = after.StripeSpan - 1;
            throw new ArgumentException(
                $"The cursor covers events in stripe {stripe}, but the store has {stripeCount} stripes (0 to {stripeCount - 1}): "
                + "it comes from another store. Read from a cursor this store gave out, or from the start.",
                nameof(after));
        }
    }

    /// <summary>Refuses a cursor that covers events of a stripe after the last one committed there.</summary>
    /// <param name="after">The cursor read after.</param>
    /// <param name="stripe">The stripe.</param>
    /// <param name="lastCommitted">The number of the stripe's last committed event (0: none), purged or not.</param>
    /// <exception cref="ArgumentNullException"><paramref name="after"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">The cursor's number for <paramref name="stripe"/> is above <paramref name="lastCommitted"/>.</exception>
    public static void ThrowIfAhead(EventCursor after, int stripe, long lastCommitted)
    {
        ArgumentNullException.ThrowIfNull(after);
        if (after[stripe] > lastCommitted)
        {
            throw new ArgumentException(
                $"The cursor covers events up to number {after[stripe]} in stripe {stripe}, but the store has committed "
                + $"{lastCommitted} there: it comes from another store, or from data since lost (a store restarted "
                + "without its data, a database restored from an older backup). Read from a cursor this store gave out, or from the start.",
                nameof(after));
        }
    }
}
