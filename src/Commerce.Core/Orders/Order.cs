using System.Collections.Immutable;
using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json.Serialization;

namespace Commerce;

/// <summary>One line of a placed order, with the unit price as it was when the order was placed.</summary>
/// <remarks>Packed on 4 bytes: 20 bytes a line, not 24 (a store keeps every order's lines for as long as the order).</remarks>
[StructLayout(LayoutKind.Sequential, Pack = 4)]
public readonly record struct OrderLine
{
    /// <summary>Creates a line; the line total is computed.</summary>
    /// <param name="productId">The product.</param>
    /// <param name="quantity">The quantity; positive.</param>
    /// <param name="unitPrice">The unit price snapshot; not negative.</param>
    /// <exception cref="ArgumentOutOfRangeException">The quantity is not positive or the price is negative.</exception>
    /// <exception cref="OverflowException">The line total does not fit in 64 bits.</exception>
    /// <remarks>
    /// System.Text.Json reads a line through this constructor (not the parameterless one, which would leave it without
    /// product, units or price), so a line read from JSON is checked as one built here.
    /// </remarks>
    [JsonConstructor]
    public OrderLine(ProductId productId, int quantity, Money unitPrice)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(quantity);
        ArgumentOutOfRangeException.ThrowIfNegative(unitPrice.Amount, nameof(unitPrice));
        _ = unitPrice * quantity; // the total must fit
        ProductId = productId;
        Quantity = quantity;
        UnitPrice = unitPrice;
    }

    /// <summary>Creates a line whose total the caller has computed with checked arithmetic (so it fits).</summary>
    internal OrderLine(ProductId productId, int quantity, Money unitPrice, Money lineTotal)
    {
        Debug.Assert(lineTotal == unitPrice * quantity, "The line total is the unit price times the quantity.");
        ProductId = productId;
        Quantity = quantity;
        UnitPrice = unitPrice;
    }

    /// <summary>The product.</summary>
    public ProductId ProductId { get; }

    /// <summary>The quantity.</summary>
    public int Quantity { get; }

    /// <summary>The unit price when the order was placed.</summary>
    public Money UnitPrice { get; }

    /// <summary>Unit price × quantity.</summary>
    /// <remarks>Computed, not stored: a line is 24 bytes, and every placed order keeps its lines.</remarks>
    public Money LineTotal => UnitPrice * Quantity;
}

/// <summary>
/// A placed order: who bought what, at which prices, for what total, and when. Immutable: the order
/// keeps its own copy of the lines.
/// </summary>
public sealed record Order
{
    /// <summary>Creates an order (used by stores to rehydrate state; <see cref="Place"/> validates input).</summary>
    /// <param name="id">The order id.</param>
    /// <param name="userId">The buyer.</param>
    /// <param name="lines">The lines; at least one, one per product.</param>
    /// <param name="placedAt">When the order was placed.</param>
    /// <exception cref="ArgumentNullException"><paramref name="lines"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="lines"/> is empty, names a product twice, or holds a line without units (<c>default(OrderLine)</c>).</exception>
    /// <exception cref="OverflowException">The total does not fit in 64 bits.</exception>
    public Order(OrderId id, UserId userId, IEnumerable<OrderLine> lines, DateTimeOffset placedAt)
        : this(id, userId, (lines ?? throw new ArgumentNullException(nameof(lines))).ToImmutableArray(), placedAt)
    {
    }

    /// <summary>Creates an order that may have been cancelled (used by stores to rehydrate state).</summary>
    /// <param name="id">The order id.</param>
    /// <param name="userId">The buyer.</param>
    /// <param name="lines">The lines; at least one, one per product.</param>
    /// <param name="placedAt">When the order was placed.</param>
    /// <param name="cancelledAt">When it was cancelled, or <see langword="null"/> if it stands.</param>
    /// <exception cref="ArgumentNullException"><paramref name="lines"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="lines"/> is empty, names a product twice, or holds a line without units (<c>default(OrderLine)</c>).</exception>
    /// <exception cref="OverflowException">The total does not fit in 64 bits.</exception>
    public Order(OrderId id, UserId userId, IEnumerable<OrderLine> lines, DateTimeOffset placedAt, DateTimeOffset? cancelledAt)
        : this(id, userId, lines, placedAt)
    {
        CancelledAt = cancelledAt;
    }

    /// <summary>
    /// Creates an order that may have been cancelled, from a list of lines (used by stores to rehydrate state, and by
    /// System.Text.Json to read an order: its <see cref="Total"/> and <see cref="Status"/> follow from the lines and
    /// <paramref name="cancelledAt"/>).
    /// </summary>
    /// <param name="id">The order id.</param>
    /// <param name="userId">The buyer.</param>
    /// <param name="lines">The lines; at least one, one per product. The order keeps its own copy.</param>
    /// <param name="placedAt">When the order was placed.</param>
    /// <param name="cancelledAt">When it was cancelled, or <see langword="null"/> if it stands.</param>
    /// <exception cref="ArgumentNullException"><paramref name="lines"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="lines"/> is empty, names a product twice, or holds a line without units (<c>default(OrderLine)</c>).</exception>
    /// <exception cref="OverflowException">The total does not fit in 64 bits.</exception>
    [JsonConstructor]
    public Order(OrderId id, UserId userId, IReadOnlyList<OrderLine> lines, DateTimeOffset placedAt, DateTimeOffset? cancelledAt)
        : this(id, userId, (lines ?? throw new ArgumentNullException(nameof(lines))).ToImmutableArray(), placedAt)
    {
        CancelledAt = cancelledAt;
    }

    /// <summary>Creates an order over lines that are already immutable (no copy, no boxing on the way in).</summary>
    internal Order(OrderId id, UserId userId, ImmutableArray<OrderLine> lines, DateTimeOffset placedAt)
        : this(id, userId, lines, TotalOf(lines), placedAt)
    {
    }

    /// <summary>
    /// Creates an order from lines the order use case built: one per product, priced, with
    /// <paramref name="total"/> their checked sum. Nothing is copied or summed again.
    /// </summary>
    internal Order(OrderId id, UserId userId, ImmutableArray<OrderLine> lines, Money total, DateTimeOffset placedAt)
    {
        Id = id;
        UserId = userId;
        _lines = ImmutableCollectionsMarshal.AsArray(lines) ?? throw new ArgumentException("An order needs at least one line.", nameof(lines));
        PlacedAt = placedAt;
        Debug.Assert(Total == total, "The total given is the sum of the lines' totals.");
    }

    // The lines: their array, until Lines is first read; from then on the boxed ImmutableArray that Lines returns
    // (made once, on demand: a store keeps orders that nobody may ever read, and the box is a third object each).
    // For a cancelled order, its Cancellation, which holds that boxed view and the time: an order keeps no field of
    // its own for a cancellation that most orders never have.
    private object _lines;

    /// <summary>The order id.</summary>
    public OrderId Id { get; }

    /// <summary>The buyer.</summary>
    public UserId UserId { get; }

    /// <summary>The lines, one per product, in the order the products first appeared in the request.</summary>
    public IReadOnlyList<OrderLine> Lines
    {
        get
        {
            var lines = Volatile.Read(ref _lines);
            if (lines is not OrderLine[] array)
            {
                return lines is Cancellation cancelled ? cancelled.Lines : (IReadOnlyList<OrderLine>)lines;
            }

            // An immutable view (a caller cannot cast it back to a writable array), the same one for every caller.
            IReadOnlyList<OrderLine> boxed = ImmutableCollectionsMarshal.AsImmutableArray(array);
            var won = Interlocked.CompareExchange(ref _lines, boxed, array);
            return ReferenceEquals(won, array) ? boxed : (IReadOnlyList<OrderLine>)won;
        }
    }

    /// <summary>The lines, without making the view <see cref="Lines"/> returns (for the library's own paths).</summary>
    internal ReadOnlySpan<OrderLine> LineSpan
    {
        get
        {
            var lines = Volatile.Read(ref _lines);
            return lines is OrderLine[] array ? array : ((ImmutableArray<OrderLine>)(lines is Cancellation cancelled ? cancelled.Lines : lines)).AsSpan();
        }
    }

    /// <summary>The sum of the line totals: what the buyer paid.</summary>
    /// <remarks>
    /// Summed from the lines at each read, not kept: a store keeps every order, and the sum is a few instructions (the
    /// constructors checked that it fits, so it is summed unchecked).
    /// </remarks>
    public Money Total
    {
        get
        {
            var total = 0L;
            foreach (ref readonly var line in LineSpan)
            {
                total += line.UnitPrice.Amount * line.Quantity;
            }

            return new Money(total);
        }
    }

    /// <summary>When the order was placed, from the host's <see cref="TimeProvider"/>.</summary>
    public DateTimeOffset PlacedAt { get; }

    /// <summary>Whether the order stands or was cancelled.</summary>
    public OrderStatus Status => CancelledAt is null ? OrderStatus.Placed : OrderStatus.Cancelled;

    /// <summary>When the order was cancelled, from the host's <see cref="TimeProvider"/>; <see langword="null"/> while it stands.</summary>
    public DateTimeOffset? CancelledAt
    {
        get => Volatile.Read(ref _lines) is Cancellation cancelled ? cancelled.At : null;
        private init
        {
            // Set after the lines (by a constructor, or by `with` on a copy of another order's): kept with their view.
            var lines = _lines is Cancellation cancelled ? cancelled.Lines : _lines;
            _lines = value is not { } at ? lines
                : new Cancellation(lines is OrderLine[] array ? ImmutableCollectionsMarshal.AsImmutableArray(array) : (IReadOnlyList<OrderLine>)lines, at);
        }
    }

    /// <summary>A cancelled order's lines (the boxed view <see cref="Lines"/> returns) and when it was cancelled.</summary>
    private sealed class Cancellation(IReadOnlyList<OrderLine> lines, DateTimeOffset at)
    {
        public IReadOnlyList<OrderLine> Lines { get; } = lines;

        public DateTimeOffset At { get; } = at;
    }

    /// <summary>Cancels the order: it keeps its lines and total and becomes <see cref="OrderStatus.Cancelled"/>.</summary>
    /// <param name="at">When.</param>
    /// <returns>The cancelled order, or <see cref="CommerceErrorCode.OrderAlreadyCancelled"/>.</returns>
    public Result<Order> Cancel(DateTimeOffset at) =>
        Status == OrderStatus.Cancelled ? Errors.OrderAlreadyCancelled(Id) : this with { CancelledAt = at };

    /// <summary>The checked sum of the line totals of lines that name each product once, each with units.</summary>
    private static Money TotalOf(ImmutableArray<OrderLine> lines)
    {
        if (lines.IsEmpty)
        {
            throw new ArgumentException("An order needs at least one line.", nameof(lines));
        }

        var total = Money.Zero;
        for (var i = 0; i < lines.Length; i++)
        {
            if (lines[i].Quantity <= 0)
            {
                // default(OrderLine): no line the constructor made has no units.
                throw new ArgumentException("An order's lines have positive quantities.", nameof(lines));
            }

            total += lines[i].LineTotal;
            for (var j = 0; j < i; j++)
            {
                if (lines[j].ProductId == lines[i].ProductId)
                {
                    throw new ArgumentException("An order holds at most one line per product.", nameof(lines));
                }
            }
        }

        return total;
    }

    /// <summary>Prices validated lines into an order.</summary>
    /// <param name="id">The new order's id.</param>
    /// <param name="userId">The buyer.</param>
    /// <param name="lines">The lines: each product once, with its unit price snapshot.</param>
    /// <param name="placedAt">When the order is placed.</param>
    /// <returns>The order, or <see cref="CommerceErrorCode.EmptyOrder"/> or <see cref="CommerceErrorCode.AmountOverflow"/>.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="lines"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="lines"/> names a product twice, or holds a line without units (<c>default(OrderLine)</c>).</exception>
    public static Result<Order> Place(OrderId id, UserId userId, IReadOnlyList<OrderLine> lines, DateTimeOffset placedAt)
    {
        ArgumentNullException.ThrowIfNull(lines);
        if (lines.Count == 0)
        {
            return Errors.EmptyOrder();
        }

        return TryTotal(lines, out _) ? new Order(id, userId, lines, placedAt) : Errors.AmountOverflow();
    }

    /// <summary>Sums line totals without overflow.</summary>
    internal static bool TryTotal(IReadOnlyList<OrderLine> lines, out Money total)
    {
        total = Money.Zero;
        for (var i = 0; i < lines.Count; i++)
        {
            if (!total.TryAdd(lines[i].LineTotal, out total))
            {
                return false;
            }
        }

        return true;
    }

    /// <inheritdoc />
    public bool Equals(Order? other) =>
        other is not null && Id == other.Id && UserId == other.UserId
        && PlacedAt == other.PlacedAt && CancelledAt == other.CancelledAt && LineSpan.SequenceEqual(other.LineSpan);

    /// <inheritdoc />
    public override int GetHashCode() => Id.GetHashCode();

    // Prints what a record prints, with each line (not the list's type) and instants in the round-trip format.
    private bool PrintMembers(StringBuilder builder)
    {
        builder.Append("Id = ").Append(Id.ToString()).Append(", UserId = ").Append(UserId.ToString()).Append(", ")
            .AppendLines(nameof(Lines), Lines).Append(", Total = ").Append(Total.ToString()).Append(", ")
            .AppendInstant(nameof(PlacedAt), PlacedAt).Append(", Status = ").Append(Status.ToString()).Append(", ")
            .AppendInstant(nameof(CancelledAt), CancelledAt);
        return true;
    }
}
