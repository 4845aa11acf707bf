using System.Numerics;

namespace Commerce.Events;

/// <summary>The kinds of stream events belong to.</summary>
public enum EventStreamKind : byte
{
    /// <summary>A user's stream: their charges, orders and cancellations.</summary>
    User = 1,

    /// <summary>A product's stream: its addition, restocks and depletions.</summary>
    Product = 2,
}

/// <summary>
/// The stream an event belongs to: a user or a product. The events of one stream are read in the order
/// they were committed; a store keeps each stream in one stripe (<see cref="StripeOf"/>).
/// </summary>
/// <param name="Kind">A user's stream or a product's.</param>
/// <param name="Id">The user's or the product's id.</param>
public readonly record struct EventStream(EventStreamKind Kind, long Id)
{
    /// <summary>A user's stream.</summary>
    /// <param name="userId">The user.</param>
    /// <returns>The stream.</returns>
    public static EventStream ForUser(UserId userId) => new(EventStreamKind.User, userId.Value);

    /// <summary>A product's stream.</summary>
    /// <param name="productId">The product.</param>
    /// <returns>The stream.</returns>
    public static EventStream ForProduct(ProductId productId) => new(EventStreamKind.Product, productId.Value);

    /// <summary>
    /// The stripe that keeps this stream among <paramref name="stripeCount"/>: the same on every host and
    /// every run (a fixed hash of the kind and the id), so that a store's stripes stay where they were.
    /// </summary>
    /// <param name="stripeCount">The store's number of stripes; from 1 to <see cref="EventCursor.MaxStripes"/>.</param>
    /// <returns>A stripe from 0 to <paramref name="stripeCount"/> − 1.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="stripeCount"/> is outside 1 to <see cref="EventCursor.MaxStripes"/>.</exception>
    public int StripeOf(int stripeCount)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(stripeCount);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(stripeCount, EventCursor.MaxStripes);

        // A 64-bit finalizer (splitmix64) of the id, salted by the kind: users and products spread alike.
        var x = unchecked((ulong)Id + ((ulong)Kind * 0x9E3779B97F4A7C15UL));
        x = unchecked((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9UL);
        x = unchecked((x ^ (x >> 27)) * 0x94D049BB133111EBUL);
        x ^= x >> 31;

        // A remainder by a power of two (every store's stripe count) is its low bits: the same number without a division.
        return (int)(BitOperations.IsPow2(stripeCount) ? x & (ulong)(stripeCount - 1) : x % (ulong)stripeCount);
    }
}
