namespace Commerce.Storage;

/// <summary>
/// What a store read at a key: the state (or <see langword="null"/> if the key was absent), with the
/// store's own means of checking at commit that it is still current.
/// </summary>
/// <remarks>
/// <para>
/// The unit of work keeps both opaque values and hands them back in the <see cref="ChangeSet"/>: a
/// store that versions rows puts the version in <see cref="Version"/>; a store that compares states
/// by reference needs nothing but <see cref="State"/>; <see cref="Handle"/> spares a second lookup
/// (for example the slot the state was read from).
/// </para>
/// <para>
/// A store that keeps a product's stock as a number rather than as a <see cref="StockItem"/> may return
/// its read as <see cref="OfQuantity"/>: the unit of work then makes the item only for a caller that asks
/// for it, and a use case that needs only the quantity (placing an order) allocates nothing for the read.
/// Likewise, a store that keeps a wallet as numbers may return its read as <see cref="OfBalance"/>.
/// </para>
/// </remarks>
/// <param name="State">The aggregate (<see cref="Wallet"/>, <see cref="Product"/>, <see cref="StockItem"/>, <see cref="Cart"/> or <see cref="Order"/>), or <see langword="null"/> if absent; for a read made by <see cref="OfQuantity"/> or <see cref="OfBalance"/>, a marker that is none of them (see <see cref="IsQuantity"/> and <see cref="IsBalance"/>).</param>
/// <param name="Version">The store's version of the state, if it keeps one.</param>
/// <param name="Handle">The store's handle on the state's location, if it wants one back at commit.</param>
public readonly record struct StoredState(object? State, long Version = 0, object? Handle = null)
{
    private static readonly object QuantityMarker = new QuantityRead();
    private static readonly object BalanceMarker = new BalanceRead();

    /// <summary>An absent key with no handle.</summary>
    public static StoredState Absent => default;

    /// <summary>
    /// The quantity on hand of a stock read made by <see cref="OfQuantity"/> (never negative); 0 for any other read.
    /// </summary>
    public int OnHand => IsQuantity ? (int)Number : 0;

    /// <summary>Whether this is a stock read made by <see cref="OfQuantity"/>: its quantity is <see cref="OnHand"/>, and <see cref="State"/> is a marker.</summary>
    public bool IsQuantity => ReferenceEquals(State, QuantityMarker);

    /// <summary>The balance of a wallet read made by <see cref="OfBalance"/> (never negative); zero for any other read.</summary>
    public Money Balance => IsBalance ? new Money(Number) : Money.Zero;

    /// <summary>The ledger length of a wallet read made by <see cref="OfBalance"/> (never negative); 0 for any other read.</summary>
    public long LedgerLength => IsBalance ? Second : 0;

    /// <summary>
    /// Whether this is a wallet read made by <see cref="OfBalance"/>: its numbers are <see cref="Balance"/> and
    /// <see cref="LedgerLength"/>, and <see cref="State"/> is a marker.
    /// </summary>
    public bool IsBalance => ReferenceEquals(State, BalanceMarker);

    // The numbers of a read made by OfQuantity (the first) or OfBalance (both).
    private long Number { get; init; }

    private long Second { get; init; }

    /// <summary>
    /// A present stock item read as its quantity alone, for a store that keeps stock as numbers: the unit of
    /// work makes the <see cref="StockItem"/> (of the key's product) only if a caller asks for it.
    /// </summary>
    /// <param name="onHand">The quantity on hand; must not be negative.</param>
    /// <param name="version">The store's version of the state, if it keeps one.</param>
    /// <param name="handle">The store's handle on the state's location, if it wants one back at commit.</param>
    /// <returns>The read, with <see cref="IsQuantity"/> set.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="onHand"/> is negative.</exception>
    public static StoredState OfQuantity(int onHand, long version = 0, object? handle = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(onHand);
        return new(QuantityMarker, version, handle) { Number = onHand };
    }

    /// <summary>
    /// A present wallet read as its numbers alone, for a store that keeps wallets as numbers: the unit of work makes
    /// the <see cref="Wallet"/> (of the key's user) only if a caller asks for it, and a use case that needs only the
    /// numbers (placing an order, a balance query) allocates nothing for the read.
    /// </summary>
    /// <remarks>
    /// A store that reads wallets so is given an order's payment, and a charge, on such a read, as a
    /// <see cref="ChangeKind.Adjust"/> of the wallet's key (the amount taken or added as <see cref="Change.Delta"/>,
    /// a <see cref="Change.Minimum"/> of zero, and this read as <see cref="Change.Seen"/>) together with the entry's
    /// <see cref="StoreTable.Ledger"/> insert, numbered one past this read's ledger length (a payment's as its order if
    /// the store implements <see cref="IStoresPaymentsAsOrders"/>). It must apply both only if the wallet's ledger is
    /// still as long as read, and then count the entry: the ledger's length becomes the entry's number.
    /// </remarks>
    /// <param name="balance">The balance; must not be negative.</param>
    /// <param name="ledgerLength">How many entries the wallet's ledger has (its <see cref="Wallet.LedgerLength"/>); must not be negative.</param>
    /// <param name="version">The store's version of the state, if it keeps one.</param>
    /// <param name="handle">The store's handle on the state's location, if it wants one back at commit.</param>
    /// <returns>The read, with <see cref="IsBalance"/> set.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="balance"/> or <paramref name="ledgerLength"/> is negative.</exception>
    public static StoredState OfBalance(Money balance, long ledgerLength, long version = 0, object? handle = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(balance.Amount, nameof(balance));
        ArgumentOutOfRangeException.ThrowIfNegative(ledgerLength);
        return new(BalanceMarker, version, handle) { Number = balance.Amount, Second = ledgerLength };
    }

    private sealed class QuantityRead
    {
        public override string ToString() => "(a quantity on hand)";
    }

    private sealed class BalanceRead
    {
        public override string ToString() => "(a wallet's balance)";
    }
}
