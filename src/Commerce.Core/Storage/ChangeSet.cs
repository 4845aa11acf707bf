using System.Collections;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using Commerce.Events;

namespace Commerce.Storage;

/// <summary>What a unit of work asks a store to do with one key at commit.</summary>
public enum ChangeKind : byte
{
    /// <summary>Only read: the commit requires the key to still hold <see cref="Change.Seen"/> (absent if its state is <see langword="null"/>).</summary>
    Read = 0,

    /// <summary>
    /// Only read, from a write-once table, and present: it can no longer change, so the store need not
    /// check it.
    /// </summary>
    Stable = 1,

    /// <summary>Insert <see cref="Change.State"/>: the commit requires the key to be absent.</summary>
    Insert = 2,

    /// <summary>Replace the state read (<see cref="Change.Seen"/>, which the commit requires to be current) with <see cref="Change.State"/>.</summary>
    Update = 3,

    /// <summary>
    /// Add <see cref="Change.Delta"/> to the number at the key (a sales count, a wallet's balance, a stock
    /// item's quantity), whatever it is by then; the commit requires the result to be at least
    /// <see cref="Change.Minimum"/>. An absent sales count or wallet counts as zero; an absent stock item
    /// fails the commit. A relative write needs no read, so concurrent adjustments of one key need not conflict.
    /// If the unit of work read the key first (<see cref="Change.WasRead"/>), that read is not checked: the
    /// use case relied on it only for what the minimum checks again (an order's "enough stock on hand"). The
    /// one exception is an order's payment or a charge over a wallet read as numbers (<see cref="StoredState.OfBalance"/>),
    /// which also appends the ledger entry numbered one past that read's ledger length: the store applies it only
    /// if the ledger is still that long.
    /// </summary>
    Adjust = 4,
}

/// <summary>One key of a <see cref="ChangeSet"/>: what was read there and what to write.</summary>
public readonly struct Change
{
    internal Change(StoreKey key, ChangeKind kind, bool wasRead, StoredState seen, object? state, long delta, long minimum)
    {
        Key = key;
        Kind = kind;
        WasRead = wasRead;
        Seen = seen;
        State = state;
        Delta = delta;
        Minimum = minimum;
    }

    /// <summary>The key.</summary>
    public StoreKey Key { get; }

    /// <summary>What to do with it.</summary>
    public ChangeKind Kind { get; }

    /// <summary>
    /// Whether the unit of work read the key (an <see cref="ChangeKind.Insert"/> after reading it absent
    /// may use the <see cref="StoredState.Handle"/> of that read, and an <see cref="ChangeKind.Adjust"/> the
    /// handle of its unchecked read); false for a blind insert or a blind adjustment.
    /// </summary>
    public bool WasRead { get; }

    /// <summary>What was read at the key (only meaningful if <see cref="WasRead"/>).</summary>
    public StoredState Seen { get; }

    /// <summary>The state to write, for <see cref="ChangeKind.Insert"/> and <see cref="ChangeKind.Update"/>.</summary>
    public object? State { get; }

    /// <summary>The amount to add, for <see cref="ChangeKind.Adjust"/>.</summary>
    public long Delta { get; }

    /// <summary>The least value the adjusted number may take, for <see cref="ChangeKind.Adjust"/>.</summary>
    public long Minimum { get; }

    /// <summary>Whether the change writes anything.</summary>
    public bool IsWrite => Kind >= ChangeKind.Insert;
}

/// <summary>A range of products a unit of work listed, which the commit requires to be unchanged.</summary>
/// <param name="After">The listing started after this id (<see langword="null"/>: at the lowest id).</param>
/// <param name="UpTo">The highest id the listing covered (<see cref="long.MaxValue"/> if it reached the end).</param>
/// <param name="Count">How many products the store had in (<paramref name="After"/>, <paramref name="UpTo"/>].</param>
/// <param name="Token">Whatever the store needs to check the range cheaply (for example the index it listed from).</param>
public readonly record struct ProductRange(ProductId? After, long UpTo, int Count, object? Token = null);

/// <summary>
/// Everything one unit of work asks a store to commit: the keys it read (with what it saw), the keys it
/// writes, and the product ranges it listed. The store applies every write atomically if, and only if,
/// every read (<see cref="ChangeKind.Read"/>, <see cref="ChangeKind.Update"/>, an insert's absence, an
/// adjustment's minimum, every range) still holds; otherwise it applies nothing.
/// </summary>
/// <remarks>Built by the library's unit of work; a store only reads it, during one commit call.</remarks>
public sealed class ChangeSet
{
    private Change[] _changes = new Change[8];
    private List<ProductRange>? _ranges;
    private List<object>? _events; // each a CommerceEvent, or an Order whose OrderPlaced the commit publishes
    private EventList? _eventList;

    internal ChangeSet()
    {
    }

    /// <summary>The keys, one change each, in the order the unit of work first touched them.</summary>
    public ReadOnlySpan<Change> Changes => new(_changes, 0, Count);

    /// <summary>The number of changes.</summary>
    public int Count { get; private set; }

    /// <summary>The number of changes that write.</summary>
    public int WriteCount { get; private set; }

    /// <summary>Whether anything is written; a change set without writes only checks that its reads held together.</summary>
    public bool HasWrites => WriteCount > 0;

    /// <summary>
    /// The events the commit publishes, in the order the use case raised them: a store that keeps events
    /// (<see cref="IEventStore"/>) writes them atomically with the writes. Only a change set with writes has any.
    /// </summary>
    /// <remarks>
    /// An <see cref="OrderPlaced"/> the library's order use cases publish is kept as the order it reports
    /// (see <see cref="TryGetPlacedOrder"/>), an <see cref="OrderCancelled"/> as the cancelled order (see
    /// <see cref="TryGetCancelledOrder"/>), and a <see cref="WalletCharged"/> its charges publish as the
    /// ledger entry it reports (see <see cref="TryGetChargeEntry"/>); this list makes the event from it each
    /// time it is read. A store that keeps orders and ledger entries anyway can keep such an event as what it
    /// reports, and the commit allocates no event.
    /// </remarks>
    public IReadOnlyList<CommerceEvent> Events => _events is null ? [] : _eventList ??= new EventList(this);

    /// <summary>
    /// Whether the event at <paramref name="index"/> of <see cref="Events"/> is the <see cref="OrderPlaced"/>
    /// of an order this change set inserts, published as that order: the event's id, buyer, lines (the same
    /// list), total and time (<see cref="Order.PlacedAt"/>, offset included) are the order's, and its
    /// position is unset. A store that keeps the orders it inserts may keep such an event as the order, and
    /// make it back when it is read, as <see cref="Events"/> does.
    /// </summary>
    /// <param name="index">From 0 to the number of <see cref="Events"/> − 1.</param>
    /// <param name="order">The order, if so.</param>
    /// <returns><see langword="true"/> if the event is the order's <see cref="OrderPlaced"/>, published as the order.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is negative or not below the number of <see cref="Events"/>.</exception>
    public bool TryGetPlacedOrder(int index, [NotNullWhen(true)] out Order? order) => TryGetOrder(index, OrderStatus.Placed, out order);

    /// <summary>
    /// Whether the event at <paramref name="index"/> of <see cref="Events"/> is the <see cref="OrderCancelled"/>
    /// of an order this change set writes as cancelled, published as that cancelled order: the event's id, buyer,
    /// lines (the same list), total and time (<see cref="Order.CancelledAt"/>, offset included) are the order's, and
    /// its position is unset. A store that keeps the orders it writes may keep such an event as the order, and make
    /// it back when it is read, as <see cref="Events"/> does.
    /// </summary>
    /// <param name="index">From 0 to the number of <see cref="Events"/> − 1.</param>
    /// <param name="order">The cancelled order, if so.</param>
    /// <returns><see langword="true"/> if the event is the order's <see cref="OrderCancelled"/>, published as the order.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is negative or not below the number of <see cref="Events"/>.</exception>
    public bool TryGetCancelledOrder(int index, [NotNullWhen(true)] out Order? order) => TryGetOrder(index, OrderStatus.Cancelled, out order);

    private bool TryGetOrder(int index, OrderStatus status, [NotNullWhen(true)] out Order? order)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)index, (uint)(_events?.Count ?? 0), nameof(index));
        order = _events![index] is Order published && published.Status == status ? published : null;
        return order is not null;
    }

    /// <summary>
    /// Whether the event at <paramref name="index"/> of <see cref="Events"/> is the <see cref="WalletCharged"/>
    /// of a <see cref="LedgerEntryKind.Charge"/> entry this change set inserts, published as that entry: the
    /// event's user, amount, balance after and time (offset included) are the entry's, and its position is
    /// unset. A store that keeps the ledger entries it inserts may keep such an event as the entry, and make
    /// it back when it is read, as <see cref="Events"/> does.
    /// </summary>
    /// <param name="index">From 0 to the number of <see cref="Events"/> − 1.</param>
    /// <param name="entry">The ledger entry, if so.</param>
    /// <returns><see langword="true"/> if the event is the entry's <see cref="WalletCharged"/>, published as the entry.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is negative or not below the number of <see cref="Events"/>.</exception>
    public bool TryGetChargeEntry(int index, [NotNullWhen(true)] out LedgerEntry? entry)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)index, (uint)(_events?.Count ?? 0), nameof(index));
        entry = _events![index] as LedgerEntry;
        return entry is not null;
    }

    /// <summary>The stream of the event at <paramref name="index"/> of <see cref="Events"/>, without making the event.</summary>
    /// <param name="index">From 0 to the number of <see cref="Events"/> − 1.</param>
    /// <returns>The event's stream.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is negative or not below the number of <see cref="Events"/>.</exception>
    public EventStream EventStreamOf(int index)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)index, (uint)(_events?.Count ?? 0), nameof(index));
        return _events![index] switch
        {
            Order order => EventStream.ForUser(order.UserId),
            LedgerEntry entry => EventStream.ForUser(entry.UserId),
            var published => ((CommerceEvent)published).Stream,
        };
    }

    /// <summary>The product ranges listed.</summary>
    public IReadOnlyList<ProductRange> ProductRanges => (IReadOnlyList<ProductRange>?)_ranges ?? [];

    /// <summary>One change (for code that cannot hold a span, such as an async commit).</summary>
    /// <param name="index">From 0 to <see cref="Count"/> − 1.</param>
    /// <returns>The change.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is negative or not below <see cref="Count"/>.</exception>
    public ref readonly Change this[int index]
    {
        get
        {
            ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)index, (uint)Count, nameof(index));
            return ref _changes[index];
        }
    }

    internal ref Change Slot(int index) => ref _changes[index];

    internal int Add(in Change change)
    {
        if (Count == _changes.Length)
        {
            Array.Resize(ref _changes, Count * 2);
        }

        _changes[Count] = change;
        if (change.IsWrite)
        {
            WriteCount++;
        }

        return Count++;
    }

    internal void Replace(int index, in Change change)
    {
        WriteCount += (change.IsWrite ? 1 : 0) - (_changes[index].IsWrite ? 1 : 0);
        _changes[index] = change;
    }

    internal void AddRange(ProductRange range) => (_ranges ??= []).Add(range);

    internal void AddEvent(CommerceEvent @event) => (_events ??= []).Add(@event);

    /// <summary>
    /// Publishes the event of a state this change set writes, as that state: an order's <see cref="OrderPlaced"/>
    /// (see <see cref="TryGetPlacedOrder"/>) or <see cref="OrderCancelled"/> (see <see cref="TryGetCancelledOrder"/>),
    /// or a charge's <see cref="WalletCharged"/> (see <see cref="TryGetChargeEntry"/>).
    /// </summary>
    internal void AddEventAsState(object written) => (_events ??= []).Add(written);

    /// <summary>
    /// The event of an entry: the event itself, an order's <see cref="OrderPlaced"/> (or <see cref="OrderCancelled"/>,
    /// once cancelled), or a charge's <see cref="WalletCharged"/>.
    /// </summary>
    private static CommerceEvent EventOf(object entry) => entry switch
    {
        Order { CancelledAt: { } at } cancelled => new OrderCancelled(cancelled.Id, cancelled.UserId, cancelled.Lines, cancelled.Total, at),
        Order order => new OrderPlaced(order.Id, order.UserId, order.Lines, order.Total, order.PlacedAt),
        LedgerEntry charge => new WalletCharged(charge.UserId, charge.Amount, charge.BalanceAfter, charge.At),
        _ => (CommerceEvent)entry,
    };

    /// <summary>Turns every write back into the read it was (or drops it, for a blind write).</summary>
    internal void DiscardWrites()
    {
        _events?.Clear();
        if (WriteCount == 0)
        {
            return;
        }

        var kept = 0;
        for (var i = 0; i < Count; i++)
        {
            var change = _changes[i];
            if (change.IsWrite)
            {
                if (!change.WasRead)
                {
                    continue;
                }

                change = new Change(change.Key, ReadKind(change.Key, change.Seen), true, change.Seen, null, 0, 0);
            }

            _changes[kept++] = change;
        }

        Array.Clear(_changes, kept, Count - kept);
        Count = kept;
        WriteCount = 0;
    }

    /// <summary>Empties the change set for reuse.</summary>
    /// <returns><see langword="false"/> if it grew too large to be worth keeping.</returns>
    internal bool Reset()
    {
        if (_changes.Length > 64)
        {
            return false;
        }

        if (RuntimeHelpers.IsReferenceOrContainsReferences<Change>())
        {
            Array.Clear(_changes, 0, Count);
        }

        Count = 0;
        WriteCount = 0;
        _ranges = null;
        _events?.Clear();
        return true;
    }

    /// <summary>The events of a change set, each made from its entry when read.</summary>
    private sealed class EventList(ChangeSet owner) : IReadOnlyList<CommerceEvent>
    {
        public int Count => owner._events?.Count ?? 0;

        public CommerceEvent this[int index]
        {
            get
            {
                ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)index, (uint)Count, nameof(index));
                return EventOf(owner._events![index]);
            }
        }

        public IEnumerator<CommerceEvent> GetEnumerator()
        {
            for (var i = 0; i < Count; i++)
            {
                yield return this[i];
            }
        }

        IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
    }

    /// <summary>The kind of a key only read: stable if write-once and present.</summary>
    internal static ChangeKind ReadKind(StoreKey key, in StoredState seen) =>
        key.IsWriteOnce && seen.State is not null ? ChangeKind.Stable : ChangeKind.Read;
}
