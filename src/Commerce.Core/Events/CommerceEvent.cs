using System.Text;
using System.Text.Json.Serialization;

namespace Commerce.Events;

/// <summary>
/// Something that happened in the shop, written in the same atomic commit as the change it reports (a
/// transactional outbox): an event exists if, and only if, the commit that caused it exists. Read them
/// with <see cref="ICommerceEventFeed"/>, or have them delivered to an <see cref="ICommerceEventHandler"/>.
/// </summary>
/// <remarks>
/// Events are immutable. Every event belongs to one <see cref="Stream"/> (a user or a product); the events
/// of one stream are read in the order they were committed. <see cref="Position"/> is set by the store
/// when the event is read back.
/// <para>
/// System.Text.Json writes an event serialized as <see cref="CommerceEvent"/> with its kind first, as a
/// <c>"$type"</c> property whose value is fixed (the event's type name: <c>"OrderPlaced"</c>, <c>"OrderCancelled"</c>,
/// <c>"WalletCharged"</c>, <c>"ProductAdded"</c>, <c>"ProductRestocked"</c>, <c>"StockDepleted"</c>), and reads such
/// JSON back as that kind of event, with reflection or a source-generated context.
/// </para>
/// </remarks>
[JsonPolymorphic]
[JsonDerivedType(typeof(OrderPlaced), "OrderPlaced")]
[JsonDerivedType(typeof(OrderCancelled), "OrderCancelled")]
[JsonDerivedType(typeof(WalletCharged), "WalletCharged")]
[JsonDerivedType(typeof(ProductAdded), "ProductAdded")]
[JsonDerivedType(typeof(ProductRestocked), "ProductRestocked")]
[JsonDerivedType(typeof(StockDepleted), "StockDepleted")]
public abstract record CommerceEvent
{
    private protected CommerceEvent(DateTimeOffset at) => At = at;

    /// <summary>When the use case ran (from the configured <see cref="TimeProvider"/>).</summary>
    public DateTimeOffset At { get; init; }

    /// <summary>Where the event was committed: its stream's stripe and its number there.</summary>
    public EventPosition Position { get; init; }

    /// <summary>The stream the event belongs to, whose events are read in commit order.</summary>
    public abstract EventStream Stream { get; }

    /// <summary>Prints the members as a record does, with <see cref="At"/> in the round-trip format whatever the current culture.</summary>
    /// <param name="builder">The text being built.</param>
    /// <returns>Whether anything was printed.</returns>
    protected virtual bool PrintMembers(StringBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.AppendInstant(nameof(At), At).Append(", ").Append(nameof(Position)).Append(" = ").Append(Position.ToString())
            .Append(", ").Append(nameof(Stream)).Append(" = ").Append(Stream.ToString());
        return true;
    }
}

/// <summary>An order was placed (from lines or from a cart): its total was paid and its stock taken.</summary>
/// <param name="OrderId">The order.</param>
/// <param name="UserId">The buyer.</param>
/// <param name="Lines">The lines, with the prices paid.</param>
/// <param name="Total">The total paid.</param>
/// <param name="At">When it was placed.</param>
public sealed record OrderPlaced(OrderId OrderId, UserId UserId, IReadOnlyList<OrderLine> Lines, Money Total, DateTimeOffset At) : CommerceEvent(At)
{
    /// <inheritdoc />
    public override EventStream Stream => EventStream.ForUser(UserId);

    /// <inheritdoc />
    /// <remarks>Prints each line, not the list's type.</remarks>
    protected override bool PrintMembers(StringBuilder builder)
    {
        base.PrintMembers(builder);
        builder.Append(", OrderId = ").Append(OrderId.ToString()).Append(", UserId = ").Append(UserId.ToString()).Append(", ")
            .AppendLines(nameof(Lines), Lines).Append(", Total = ").Append(Total.ToString());
        return true;
    }

    /// <inheritdoc />
    /// <remarks>Compares the lines one by one, as a value (a record compares lists by reference), so that the same event read twice is equal.</remarks>
    public bool Equals(OrderPlaced? other) =>
        other is not null && base.Equals(other) && OrderId == other.OrderId && UserId == other.UserId && Total == other.Total
        && RecordText.SameItems(Lines, other.Lines);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(base.GetHashCode(), OrderId);
}

/// <summary>An order was cancelled: its total was refunded, its lines restocked and its units taken out of the ranking.</summary>
/// <param name="OrderId">The order.</param>
/// <param name="UserId">The buyer.</param>
/// <param name="Lines">The lines put back in stock.</param>
/// <param name="Refunded">The amount refunded (the order's total).</param>
/// <param name="At">When it was cancelled.</param>
public sealed record OrderCancelled(OrderId OrderId, UserId UserId, IReadOnlyList<OrderLine> Lines, Money Refunded, DateTimeOffset At) : CommerceEvent(At)
{
    /// <inheritdoc />
    public override EventStream Stream => EventStream.ForUser(UserId);

    /// <inheritdoc />
    /// <remarks>Prints each line, not the list's type.</remarks>
    protected override bool PrintMembers(StringBuilder builder)
    {
        base.PrintMembers(builder);
        builder.Append(", OrderId = ").Append(OrderId.ToString()).Append(", UserId = ").Append(UserId.ToString()).Append(", ")
            .AppendLines(nameof(Lines), Lines).Append(", Refunded = ").Append(Refunded.ToString());
        return true;
    }

    /// <inheritdoc />
    /// <remarks>Compares the lines one by one, as a value (a record compares lists by reference), so that the same event read twice is equal.</remarks>
    public bool Equals(OrderCancelled? other) =>
        other is not null && base.Equals(other) && OrderId == other.OrderId && UserId == other.UserId && Refunded == other.Refunded
        && RecordText.SameItems(Lines, other.Lines);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(base.GetHashCode(), OrderId);
}

/// <summary>A wallet was charged (topped up).</summary>
/// <param name="UserId">The wallet's user.</param>
/// <param name="Amount">The amount added.</param>
/// <param name="BalanceAfter">The balance after the charge.</param>
/// <param name="At">When it was charged.</param>
public sealed record WalletCharged(UserId UserId, Money Amount, Money BalanceAfter, DateTimeOffset At) : CommerceEvent(At)
{
    /// <inheritdoc />
    public override EventStream Stream => EventStream.ForUser(UserId);
}

/// <summary>A product was added to the catalog with its initial stock.</summary>
/// <param name="ProductId">The product.</param>
/// <param name="Name">Its name.</param>
/// <param name="Price">Its price.</param>
/// <param name="InitialStock">Its stock on hand when added.</param>
/// <param name="At">When it was added.</param>
public sealed record ProductAdded(ProductId ProductId, string Name, Money Price, int InitialStock, DateTimeOffset At) : CommerceEvent(At)
{
    /// <inheritdoc />
    public override EventStream Stream => EventStream.ForProduct(ProductId);
}

/// <summary>A product was restocked.</summary>
/// <param name="ProductId">The product.</param>
/// <param name="Quantity">The units added.</param>
/// <param name="OnHandAfter">The stock on hand after the restock.</param>
/// <param name="At">When it was restocked.</param>
public sealed record ProductRestocked(ProductId ProductId, int Quantity, int OnHandAfter, DateTimeOffset At) : CommerceEvent(At)
{
    /// <inheritdoc />
    public override EventStream Stream => EventStream.ForProduct(ProductId);
}

/// <summary>A product's stock on hand reached zero (by the order named).</summary>
/// <param name="ProductId">The product.</param>
/// <param name="OrderId">The order that took its last units.</param>
/// <param name="At">When the order was placed.</param>
public sealed record StockDepleted(ProductId ProductId, OrderId OrderId, DateTimeOffset At) : CommerceEvent(At)
{
    /// <inheritdoc />
    public override EventStream Stream => EventStream.ForProduct(ProductId);
}
