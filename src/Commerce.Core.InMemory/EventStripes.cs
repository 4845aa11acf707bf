// The in-memory event log: a fixed number of stripes, each one cell of the multi-word CAS.
//
// A commit that publishes events adds two updates per stripe its events go to: it reads the stripe's
// state (as late as it can, right before the CAS; and stripes come last in the cells' order, so it
// installs there last, right before its decision) and writes the next one: the stripe's count, moved on by
// the commit's events (a number in the cell's word), and those events (the entries in the cell's reference),
// numbered after the count it read. The CAS publishes the events atomically with the writes they report,
// and two commits on one stripe are ordered by that stripe's cell, so numbers have no gaps.
//
// A stripe's state holds only the events of the commit that installed it (its latest). Before a commit
// writes the next state, it copies those into the stripe's append-only log (they are committed, so every
// copier writes the same references): in every state, events 1 … Count − LatestCount are in the log (or
// purged), and the rest are its latest. This is the pattern of a wallet's ledger (see WalletCell).
//
// An entry is the event itself, or, for an order placed or a charge that the commit's change set hands over
// as the order or ledger entry it inserts (see EventEntries), that order or entry: the log then keeps no
// second copy of what the orders' table or the wallet's ledger keeps already, and a reader makes the event
// back from it.
//
// Appending is commutative: if a commit fails only because a stripe it appends to moved on (every other
// cell still holds what it expected), the store rebuilds the stripe updates and tries again, so commits on
// unrelated streams that share a stripe do not re-run their use cases. Another commit succeeded each time,
// so this keeps the commit lock-free.
using System.Collections.Immutable;
using System.Globalization;
using Commerce.Events;
using Commerce.InMemory.LockFree;
using Commerce.Storage;

namespace Commerce.InMemory;

/// <summary>
/// A stripe's cell, which holds its state in two words that every commit on the stripe writes together: how
/// many events the stripe has committed (<see cref="WordCell.Word"/>, a number that only grows), and the
/// entries of the events the commit that wrote that number appended (<see cref="Cell.Content"/>: one entry, an
/// array of several, or <see cref="None"/> before the first; see <see cref="EventEntries"/>). The content is an
/// object new to the cell at every commit, so it never comes back, as a state object never did: an order or a
/// ledger entry (inserted once), or an array made for the commit (several entries, or an event, which a host may
/// publish twice). An order or a charge thus allocates nothing for the stripe. Read it through
/// <see cref="EventStripeState.Of"/>.
/// </summary>
internal sealed class StripeCell(long order) : WordCell(None, order)
{
    /// <summary>The content of a stripe that has no event yet.</summary>
    public static readonly object None = new NoEntries();

    // Unused: they keep the next object allocated after this one off the line of the words every commit on the
    // stripe writes (the base's content, order and word come first in the object; these follow them). The stripes'
    // cells are allocated one after another, so without them two stripes' words could share a cache line, and a
    // commit on one would take the line from the core committing on the other.
#pragma warning disable CS0169, IDE0051 // never read or written: padding
    private readonly long _pad0, _pad1, _pad2, _pad3, _pad4, _pad5, _pad6, _pad7;
#pragma warning restore CS0169, IDE0051

    private sealed class NoEntries
    {
        public override string ToString() => "(no events)";
    }
}

/// <summary>
/// The state of a stripe (see <see cref="StripeCell"/>): how many events it has committed, and the entries of
/// the events the commit that wrote this state appended (numbered up to <see cref="Count"/>; see
/// <see cref="EventEntries"/>). Older ones are in the stripe's <see cref="EventLog"/>, which every state of
/// the stripe shares (<see cref="EventStripes.LogOf"/>).
/// </summary>
internal readonly struct EventStripeState
{
    private EventStripeState(long count, object latest)
    {
        Count = count;
        Latest = latest;
    }

    /// <summary>The number of the stripe's last committed event (0: none).</summary>
    public long Count { get; }

    /// <summary>The commit's entries as the cell holds them: one entry itself (an order, a charge), an array (of several, or of an event), or <see cref="StripeCell.None"/>.</summary>
    public object Latest { get; }

    /// <summary>How many events the commit that wrote this state published here, numbered <c>Count − LatestCount + 1</c> … <c>Count</c>.</summary>
    public int LatestCount => Latest switch
    {
        object[] many => many.Length,
        _ when ReferenceEquals(Latest, StripeCell.None) => 0,
        _ => 1,
    };

    /// <summary>
    /// The state a stripe's cell holds now, its two words read as of one instant: the number, the entries, then
    /// the number again, until the two numbers agree. Every commit on the stripe makes the number larger, so
    /// no commit took effect between the two reads of one number, and the entries read between them are that
    /// number's. Lock-free: a read is repeated only because another commit succeeded.
    /// </summary>
    public static EventStripeState Of(StripeCell cell)
    {
        while (true)
        {
            var count = MultiWordCas.ReadWord(cell);
            var latest = MultiWordCas.Read(cell);
            if (MultiWordCas.ReadWord(cell) == count)
            {
                return new(count, latest);
            }
        }
    }

    /// <summary>
    /// The entry of event <paramref name="sequence"/> as of this state, or <see langword="null"/> if it is
    /// beyond <see cref="Count"/> or was purged from the stripe's <paramref name="log"/>.
    /// </summary>
    public object? Entry(long sequence, EventLog log)
    {
        if (sequence < 1 || sequence > Count)
        {
            return null;
        }

        var first = Count - LatestCount + 1;
        return sequence >= first ? LatestAt((int)(sequence - first)) : log.Entry(sequence);
    }

    /// <summary>Stores the commit's entries in the stripe's log (idempotent): done before any commit replaces this state.</summary>
    public void CopyForward(EventLog log)
    {
        switch (Latest)
        {
            case object[] many:
                var sequence = Count - many.Length;
                foreach (var committed in many)
                {
                    log.Store(++sequence, committed);
                }

                break;
            case var one when !ReferenceEquals(one, StripeCell.None):
                log.Store(Count, one);
                break;
        }
    }

    private object LatestAt(int index) => Latest is object[] many ? many[index] : Latest;
}

/// <summary>
/// The entries a stripe keeps for events: the event itself; for an <see cref="OrderPlaced"/> its commit
/// published as the order it inserts (<see cref="ChangeSet.TryGetPlacedOrder"/>), that <see cref="Order"/>; for an
/// <see cref="OrderCancelled"/> published as the cancelled order it saves (<see cref="ChangeSet.TryGetCancelledOrder"/>),
/// that cancelled order (a new object, which the orders' table keeps in place of the one placed);
/// for a <see cref="WalletCharged"/> published as the ledger entry it inserts
/// (<see cref="ChangeSet.TryGetChargeEntry"/>), that <see cref="LedgerEntry"/>. The orders' table and the
/// wallets' ledgers keep those anyway, so the event then costs the log one reference and the commit no object
/// of its own; a reader makes the event back from it.
/// </summary>
internal static class EventEntries
{
    /// <summary>The entry to keep for event <paramref name="index"/> of <paramref name="changes"/>.</summary>
    public static object Of(ChangeSet changes, int index) =>
        changes.TryGetPlacedOrder(index, out var order) || changes.TryGetCancelledOrder(index, out order) ? order
        : changes.TryGetChargeEntry(index, out var charge) ? charge
        : changes.Events[index];

    /// <summary>When the event of an entry happened.</summary>
    public static DateTimeOffset AtOf(object entry) => entry switch
    {
        Order order => order.CancelledAt ?? order.PlacedAt,
        LedgerEntry charge => charge.At,
        _ => ((CommerceEvent)entry).At,
    };

    /// <summary>The event of an entry, at <paramref name="position"/>.</summary>
    public static CommerceEvent EventOf(object entry, EventPosition position) => entry switch
    {
        Order { CancelledAt: { } at } cancelled => new OrderCancelled(cancelled.Id, cancelled.UserId, cancelled.Lines, cancelled.Total, at) { Position = position },
        Order order => new OrderPlaced(order.Id, order.UserId, order.Lines, order.Total, order.PlacedAt) { Position = position },
        LedgerEntry charge => new WalletCharged(charge.UserId, charge.Amount, charge.BalanceAfter, charge.At) { Position = position },
        _ => (CommerceEvent)entry with { Position = position },
    };
}

/// <summary>
/// A stripe's committed events, by number, in a three-level table of fixed-size pages (like a page
/// table): appending never copies, reading is three array loads, and a purged prefix gives its pages back.
/// The top level is a ring: a middle page serves the 2^20 events from its <see cref="Middle.First"/>, and its
/// slot is taken by a later range once every event of the page was purged, so a stripe may number events
/// for ever as long as at most <see cref="Capacity"/> (255 · 2^20) of them are kept (not yet purged).
/// Events are only ever written once committed, and every writer of a slot writes the same reference, so
/// plain atomic writes suffice (a CAS only to publish a new page).
/// </summary>
internal sealed class EventLog
{
    private const int LeafBits = 10;
    private const int MiddleBits = 10;
    private const int TopSize = 256; // 2^28 events kept per stripe
    private const int LeafSize = 1 << LeafBits;
    private const int MiddleSize = 1 << MiddleBits;
    private const long EventsPerMiddle = (long)LeafSize * MiddleSize;

    /// <summary>
    /// The most events a stripe is sure to keep at once (numbered after the purged ones): all but one of the
    /// ring's pages, since the oldest page kept may be partly purged.
    /// </summary>
    public const long Capacity = EventsPerMiddle * (TopSize - 1);

    private Middle?[]? _top;
    private long _purgedThrough;

    // The leaf page stored in last, with the number of its first event: a stripe's events are stored in order, so most
    // stores land in it and skip the walk from the top (three loads, each most often a miss). A cache, not state: any
    // store may replace it with a plain write, and one that names another range sends a store down the walk. Its leaf
    // is the log's for its range as long as any event of the range is not purged (a leaf is dropped only once all of
    // them are), and a store of a purged number writes nothing.
    private Tail? _tail;

    /// <summary>The number of the last event purged (0: none); events up to it are gone from the log.</summary>
    public long PurgedThrough => Volatile.Read(ref _purgedThrough);

    /// <summary>Whether the leaf page that holds event <paramref name="sequence"/> is in the log (for tests).</summary>
    internal bool HoldsPageOf(long sequence) => LeavesOf(sequence) is not null;

    /// <summary>The number of the first event of the leaf page kept as the tail, if one is (for tests).</summary>
    internal long? TailFirst => Volatile.Read(ref _tail)?.First;

    /// <summary>A test seam: called by <see cref="Store"/> between its first look at the purged bound and its write.</summary>
    internal Action? BeforeWrite { get; set; }

    /// <summary>Starts loading the leaf page kept as the tail (its first number and page), without waiting for it.</summary>
    public void PrefetchTail() => Prefetch.Object(Volatile.Read(ref _tail));

    /// <summary>
    /// Starts loading what <see cref="Store"/> of event <paramref name="sequence"/> writes, if the tail's page holds it:
    /// that page's length, which the write's bounds check reads, and the event's slot. Nothing otherwise.
    /// </summary>
    public void PrefetchStore(long sequence)
    {
        if (Volatile.Read(ref _tail) is { } tail && (ulong)(sequence - tail.First) < LeafSize)
        {
            Prefetch.Object(tail.Leaves);
            Prefetch.Element(tail.Leaves, Leaf(sequence));
        }
    }

    /// <summary>The entry of the event numbered <paramref name="sequence"/> (from 1), or <see langword="null"/> if it is not stored here (or was purged).</summary>
    public object? Entry(long sequence)
    {
        var leaves = LeavesOf(sequence);
        return leaves is null ? null : Volatile.Read(ref leaves[Leaf(sequence)].Entry);
    }

    /// <summary>Stores a committed event's entry at its number in the stripe (idempotent); nothing if it was purged.</summary>
    /// <exception cref="InvalidOperationException">The stripe keeps <see cref="Capacity"/> events not yet purged already.</exception>
    public void Store(long sequence, object committed)
    {
        if (sequence <= PurgedThrough)
        {
            return;
        }

        BeforeWrite?.Invoke();
        var tail = Volatile.Read(ref _tail);
        var leaves = tail is not null && (ulong)(sequence - tail.First) < LeafSize ? tail.Leaves : LeavesForStore(sequence);
        if (leaves is null)
        {
            return; // A later range took the slot: this range was purged whole meanwhile.
        }

        // The write, then a second look at the bound. A purge moves the bound, then waits until every thread's earlier
        // writes are seen (a process-wide barrier), then clears: so either this look sees the bound moved, or the purge
        // clears this write. A write that a purge passed is taken back (with the pages it may have brought back),
        // keeping purged memory free. The barrier is the purge's, so that a store needs no fence of its own.
        var leaf = Leaf(sequence);
        Volatile.Write(ref leaves[leaf].Entry, committed);
        if (sequence <= PurgedThrough)
        {
            Interlocked.CompareExchange(ref leaves[leaf].Entry, null, committed);
            Release(PurgedThrough);
        }
    }

    /// <summary>
    /// The leaf page of event <paramref name="sequence"/>, walked to from the top and created where missing, which then
    /// becomes the tail; <see langword="null"/> if a later range took its middle page's slot (the range was purged whole).
    /// </summary>
    /// <exception cref="InvalidOperationException">The stripe keeps <see cref="Capacity"/> events not yet purged already.</exception>
    private Slot[]? LeavesForStore(long sequence)
    {
        var (top, first, middle) = Locate(sequence);
        var tops = Volatile.Read(ref _top)
            ?? Interlocked.CompareExchange(ref _top, new Middle?[TopSize], null)
            ?? _top!;
        var page = Volatile.Read(ref tops[top]);
        while (page is null || page.First != first)
        {
            if (page is not null && page.First > first)
            {
                return null;
            }

            if (page is not null && page.First + EventsPerMiddle - 1 > PurgedThrough)
            {
                throw new InvalidOperationException(string.Create(
                    CultureInfo.InvariantCulture,
                    $"A stripe keeps at most {Capacity:N0} events not yet purged; purge events (the event dispatcher's retention does) to keep publishing on it."));
            }

            // An empty slot, or one whose every event was purged: this range takes it.
            var created = new Middle(first);
            var seen = Interlocked.CompareExchange(ref tops[top], created, page);
            page = ReferenceEquals(seen, page) ? created : seen;
        }

        var leaves = Volatile.Read(ref page.Leaves[middle]);
        if (leaves is null)
        {
            var created = new Slot[LeafSize];
            leaves = Interlocked.CompareExchange(ref page.Leaves[middle], created, null) ?? created;
        }

        Volatile.Write(ref _tail, new Tail(sequence - Leaf(sequence), leaves));
        return leaves;
    }

    /// <summary>
    /// Moves the purged prefix on to <paramref name="target"/> if it is not there yet; returns how many
    /// events this call purged (0 if another purge got as far first).
    /// </summary>
    public long PurgeThrough(long target)
    {
        while (true)
        {
            var purged = PurgedThrough;
            if (target <= purged)
            {
                return 0;
            }

            if (Interlocked.CompareExchange(ref _purgedThrough, target, purged) == purged)
            {
                // Every store that wrote before its second look at the bound, which may still have seen the old bound,
                // is seen from here on (see Store), so clearing after this clears its write.
                Interlocked.MemoryBarrierProcessWide();

                // Clear the slots of a partly purged leaf (leaf by leaf, skipping leaves not held), and drop every
                // page entirely purged.
                for (var sequence = purged + 1; sequence <= target;)
                {
                    var leafEnd = Math.Min(target, sequence - Leaf(sequence) + LeafSize - 1);
                    if (LeavesOf(sequence) is { } leaves)
                    {
                        for (; sequence <= leafEnd; sequence++)
                        {
                            Volatile.Write(ref leaves[Leaf(sequence)].Entry, null);
                        }
                    }

                    sequence = leafEnd + 1;
                }

                Release(target);
                return target - purged;
            }
        }
    }

    /// <summary>Drops the pages whose every event is numbered at or below <paramref name="through"/>.</summary>
    private void Release(long through)
    {
        if (Volatile.Read(ref _tail) is { } tail && tail.First + LeafSize - 1 <= through)
        {
            Interlocked.CompareExchange(ref _tail, null, tail); // nor is a leaf purged whole kept as the tail
        }

        var tops = Volatile.Read(ref _top);
        if (tops is null)
        {
            return;
        }

        for (var top = 0; top < TopSize; top++)
        {
            var page = Volatile.Read(ref tops[top]);
            if (page is null)
            {
                continue;
            }

            if (page.First + EventsPerMiddle - 1 <= through)
            {
                Interlocked.CompareExchange(ref tops[top], null, page);
                continue;
            }

            for (var middle = 0; middle < MiddleSize; middle++)
            {
                if (page.First + (((long)middle + 1) * LeafSize) - 1 > through)
                {
                    break;
                }

                if (Volatile.Read(ref page.Leaves[middle]) is { } leaves)
                {
                    Interlocked.CompareExchange(ref page.Leaves[middle], null, leaves);
                }
            }
        }
    }

    /// <summary>The leaf page of event <paramref name="sequence"/>, if the log holds it (for this range, not an earlier or later one).</summary>
    private Slot[]? LeavesOf(long sequence)
    {
        var (top, first, middle) = Locate(sequence);
        return Volatile.Read(ref _top)?[top] is { } page && page.First == first ? Volatile.Read(ref page.Leaves[middle]) : null;
    }

    /// <summary>
    /// A leaf's slot: a struct around the entry, so that a write through a reference to it needs no check
    /// of the array's element type (as one into an <c>object[]</c>, which may be an array of a subtype, does).
    /// </summary>
    private struct Slot
    {
        public object? Entry;
    }

    /// <summary>The leaf page stored in last (<see cref="Leaves"/>), which holds the events numbered from <see cref="First"/>.</summary>
    private sealed class Tail(long first, Slot[] leaves)
    {
        public long First { get; } = first;

        public Slot[] Leaves { get; } = leaves;
    }

    /// <summary>A middle page: the leaves of the 2^20 events numbered from <see cref="First"/>.</summary>
    private sealed class Middle(long first)
    {
        public long First { get; } = first;

        public Slot[]?[] Leaves { get; } = new Slot[]?[MiddleSize];
    }

    /// <summary>The ring slot of an event's middle page, the first number that page serves, and the leaf page within it.</summary>
    private static (int Top, long First, int Middle) Locate(long sequence)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(sequence, 1);
        var index = sequence - 1;
        var range = index >> (LeafBits + MiddleBits);
        return ((int)(range & (TopSize - 1)), (range * EventsPerMiddle) + 1, (int)((index >> LeafBits) & (MiddleSize - 1)));
    }

    private static int Leaf(long sequence) => (int)((sequence - 1) & (LeafSize - 1));
}

/// <summary>
/// The in-memory store's events: the stripes (cells of the multi-word CAS, see the top of this file), the
/// signal that wakes waiting readers, and the consumers' checkpoints. Lock-free and thread-safe.
/// </summary>
internal sealed class EventStripes
{
    /// <summary>The number of stripes of every in-memory store.</summary>
    public const int DefaultStripeCount = 64;

    private readonly StripeCell[] _cells;
    private readonly EventLog[] _logs;
    private ImmutableDictionary<string, EventCursor> _checkpoints = ImmutableDictionary.Create<string, EventCursor>(StringComparer.Ordinal);

    // Set only while someone waits, so that commits only read this word otherwise (no word every commit writes).
    private TaskCompletionSource? _waiting;

    // Set once, by the first commit that publishes: from then on, batch reads prefetch users' stripes.
    private bool _published;

    // Set once, when the store is disposed: waits under way end, and later ones are refused.
    private int _closed;

    /// <summary>Creates the stripes, each empty.</summary>
    public EventStripes(int stripeCount = DefaultStripeCount)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(stripeCount);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(stripeCount, EventCursor.MaxStripes);
        _cells = new StripeCell[stripeCount];
        _logs = new EventLog[stripeCount];
        SignalWaiting = Signal;
        for (var i = 0; i < stripeCount; i++)
        {
            // Last in the global order: a commit installs in its stripes after its other cells, right
            // before its decision, so a stripe holds an undecided commit only briefly.
            _cells[i] = new StripeCell(long.MaxValue - stripeCount + i);
        }

        // Apart from the cells (each padded; see StripeCell): a log's fields are read by every commit on its
        // stripe and written about once per thousand events.
        for (var i = 0; i < stripeCount; i++)
        {
            _logs[i] = new EventLog();
        }
    }

    /// <summary>The number of stripes.</summary>
    public int StripeCount => _cells.Length;

    /// <summary>The cell of a stripe (a test seam as well).</summary>
    public StripeCell CellOf(int stripe) => _cells[stripe];

    /// <summary>The log of a stripe, shared by all its states.</summary>
    public EventLog LogOf(int stripe) => _logs[stripe];

    /// <summary>The committed state of a stripe.</summary>
    public EventStripeState StateOf(int stripe) => EventStripeState.Of(_cells[stripe]);

    /// <summary>
    /// Writes, from <paramref name="next"/> on, one update per stripe that the events of
    /// <paramref name="changes"/> go to, and, from <paramref name="wordCount"/> on in <paramref name="words"/>,
    /// one update of that stripe's number: each expects the stripe's state now (whose latest events it copies
    /// into the log first) and writes the next one, with these events' entries (see <see cref="EventEntries"/>)
    /// numbered after it. Returns the new end of the updates; <paramref name="wordCount"/> is moved on.
    /// </summary>
    public int AddUpdates(CellUpdate[] updates, int next, WordUpdate[] words, ref int wordCount, ChangeSet changes)
    {
        // A commit publishes a handful of events (an order: one, plus a depletion per line); most, one.
        var count = changes.Events.Count;
        if (!_published)
        {
            _published = true;
        }

        if (count == 1)
        {
            AddUpdate(updates, next, words, wordCount++, changes.EventStreamOf(0).StripeOf(_cells.Length), Fresh(EventEntries.Of(changes, 0)), 1);
            return next + 1;
        }

        Span<int> stripes = count <= 32 ? stackalloc int[count] : new int[count];
        for (var i = 0; i < count; i++)
        {
            stripes[i] = changes.EventStreamOf(i).StripeOf(_cells.Length);
        }

        for (var i = 0; i < stripes.Length; i++)
        {
            var stripe = stripes[i];
            if (stripes[..i].Contains(stripe))
            {
                continue; // Done with the first event of this stripe.
            }

            var inStripe = 1;
            for (var j = i + 1; j < stripes.Length; j++)
            {
                inStripe += stripes[j] == stripe ? 1 : 0;
            }

            if (inStripe == 1)
            {
                AddUpdate(updates, next++, words, wordCount++, stripe, Fresh(EventEntries.Of(changes, i)), 1);
                continue;
            }

            var appended = new object[inStripe];
            for (int j = i, k = 0; j < stripes.Length; j++)
            {
                if (stripes[j] == stripe)
                {
                    appended[k++] = EventEntries.Of(changes, j);
                }
            }

            AddUpdate(updates, next++, words, wordCount++, stripe, appended, inStripe);
        }

        return next;
    }

    /// <summary>
    /// What a stripe's cell holds for one entry: an order or a ledger entry itself (each is inserted once, so it is
    /// new to every cell); an event published as itself in an array of its own, since a host may publish one event
    /// object in two commits, and a cell's content must never come back (a helper's late install that expects it
    /// would succeed; see <see cref="StripeCell"/>).
    /// </summary>
    private static object Fresh(object entry) => entry is CommerceEvent ? new object[] { entry } : entry;

    /// <summary>
    /// Writes, at <paramref name="at"/> and <paramref name="wordAt"/>, the updates that append the
    /// <paramref name="appended"/> entries (one entry, or an array of <paramref name="count"/>) to
    /// <paramref name="stripe"/>: its content and its number.
    /// </summary>
    private void AddUpdate(CellUpdate[] updates, int at, WordUpdate[] words, int wordAt, int stripe, object appended, int count)
    {
        // The state now, whose latest events are copied into the stripe's log first (what the updates expect there).
        var cell = _cells[stripe];
        var current = EventStripeState.Of(cell);
        current.CopyForward(_logs[stripe]);

        // Kept without a position: a reader sets it on the event it returns, so that the commit path
        // allocates no second event.
        updates[at] = new CellUpdate(cell, current.Latest, appended);
        words[wordAt] = new WordUpdate(cell, current.Count, current.Count + count);
    }

    /// <summary>
    /// Starts loading the cell of <paramref name="user"/>'s stripe, which a commit that publishes the user's
    /// events reads and swaps (a batch read that reads the user's wallet calls this with its other loads), and the
    /// stripe's log, and returns the cell for <see cref="PrefetchState"/>; nothing (<see langword="null"/>) until some
    /// commit has published an event, so that a host without events loads nothing more.
    /// </summary>
    public Cell? PrefetchCellOf(UserId user)
    {
        if (!_published)
        {
            return null;
        }

        var stripe = EventStream.ForUser(user).StripeOf(_cells.Length);
        Prefetch.Object(_logs[stripe]); // its tail, which the next step loads
        var cell = _cells[stripe];
        Prefetch.Object(cell);
        return cell;
    }

    /// <summary>
    /// The next step after <see cref="PrefetchCellOf"/> (<paramref name="cell"/>, of <paramref name="user"/>'s stripe,
    /// if any): starts loading the latest entries (or the descriptor) the cell holds, and the log's tail, where the
    /// commit copies those entries (see <see cref="PrefetchCopy"/>).
    /// </summary>
    public void PrefetchState(Cell? cell, UserId user)
    {
        if (cell is not null)
        {
            Prefetch.Object(Volatile.Read(ref cell.Content));
            _logs[EventStream.ForUser(user).StripeOf(_cells.Length)].PrefetchTail();
        }
    }

    /// <summary>
    /// The last step, at the start of a commit that publishes <paramref name="changes"/>' events: starts loading the
    /// log's slot that the commit's copy of its first event's stripe writes (see <see cref="AddUpdate"/>), with the
    /// length of that slot's page, which the write checks. Reads only lines the steps before loaded.
    /// </summary>
    public void PrefetchCopy(ChangeSet changes)
    {
        if (changes.Events.Count > 0)
        {
            var stripe = changes.EventStreamOf(0).StripeOf(_cells.Length);
            _logs[stripe].PrefetchStore(Volatile.Read(ref _cells[stripe].Word)); // a marker (negative) names no slot
        }
    }

    /// <summary><see cref="Signal"/>, as the hook of a commit that publishes events (see <see cref="CommitDescriptor.OnSucceeded"/>): one delegate for every commit.</summary>
    public Action SignalWaiting { get; }

    /// <summary>Wakes the readers waiting for events; called once a commit that published some succeeded, by its thread, and by a helper that decided it.</summary>
    public void Signal()
    {
        if (Volatile.Read(ref _waiting) is { } waiting && Interlocked.CompareExchange(ref _waiting, null, waiting) == waiting)
        {
            waiting.TrySetResult();
        }
    }

    /// <summary>Whether an event exists that <paramref name="after"/> does not cover (and that was not purged).</summary>
    public bool HasEventsAfter(EventCursor after)
    {
        for (var stripe = 0; stripe < _cells.Length; stripe++)
        {
            if (MultiWordCas.ReadWord(_cells[stripe]) > Math.Max(after[stripe], _logs[stripe].PurgedThrough))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// Ends the waits under way and every later one with <see cref="ObjectDisposedException"/> (the store was
    /// disposed). Idempotent.
    /// </summary>
    public void Close()
    {
        // A full fence between the flag and the look at the waiting signal, as a waiter has between its
        // registration and its look at the flag: one of the two sees the other's write.
        Interlocked.Exchange(ref _closed, 1);
        Signal();
    }

    /// <summary>
    /// Completes when <see cref="HasEventsAfter"/> holds; lock-free (a signal, never a blocked thread).
    /// Throws <see cref="ObjectDisposedException"/> once <see cref="Close"/> was called, if nothing is to be read by then.
    /// </summary>
    public async ValueTask WaitAsync(EventCursor after, CancellationToken cancellationToken)
    {
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();

            // Register first, then look: a commit after the look signals what was registered (both sides
            // fence between their write and their read), so no event is missed. A signal takes the source
            // out of the field before it completes it, so one found there has not fired yet.
            var waiting = Volatile.Read(ref _waiting);
            if (waiting is null)
            {
                var created = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                waiting = Interlocked.CompareExchange(ref _waiting, created, null) ?? created;
            }

            Interlocked.MemoryBarrier();
            if (HasEventsAfter(after))
            {
                return;
            }

            if (Volatile.Read(ref _closed) != 0)
            {
                // No signal can be relied on any more: a waiter that the closing one missed would wait for ever.
                throw new ObjectDisposedException(typeof(InMemoryCommerceStore).FullName, "The in-memory store was disposed while waiting for events.");
            }

            await waiting.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>A page: up to <paramref name="limit"/> events after the cursor, merged oldest first by time then stripe.</summary>
    public EventPage Read(EventCursor after, int limit)
    {
        ArgumentNullException.ThrowIfNull(after);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
        EventCursorChecks.ThrowIfBeyondStripes(after, _cells.Length);

        // A lazy merge: each stripe's state is read once, and its next event fetched only when its head is taken.
        var states = new EventStripeState[_cells.Length];
        var sequences = new long[_cells.Length];
        var heads = new PriorityQueue<(int Stripe, object Entry), (DateTimeOffset At, int Stripe)>();
        for (var stripe = 0; stripe < _cells.Length; stripe++)
        {
            var state = states[stripe] = StateOf(stripe);
            EventCursorChecks.ThrowIfAhead(after, stripe, state.Count); // a purge keeps the count
            sequences[stripe] = Math.Max(after[stripe], _logs[stripe].PurgedThrough); // the latest events may outlive a purge in the state
            if (NextOf(state, stripe, ref sequences[stripe]) is { } head)
            {
                heads.Enqueue((stripe, head), (EventEntries.AtOf(head), stripe));
            }
        }

        var events = new List<CommerceEvent>(Math.Min(limit, Math.Max(heads.Count, 16)));
        var read = new long[_cells.Length];
        while (events.Count < limit && heads.TryDequeue(out var taken, out _))
        {
            var position = new EventPosition(taken.Stripe, sequences[taken.Stripe]);
            events.Add(EventEntries.EventOf(taken.Entry, position));
            read[taken.Stripe] = position.Sequence;
            if (NextOf(states[taken.Stripe], taken.Stripe, ref sequences[taken.Stripe]) is { } head)
            {
                heads.Enqueue((taken.Stripe, head), (EventEntries.AtOf(head), taken.Stripe));
            }
        }

        var next = after;
        for (var stripe = 0; stripe < read.Length; stripe++)
        {
            if (read[stripe] > 0)
            {
                next = next.Through(new EventPosition(stripe, read[stripe]));
            }
        }

        return new EventPage(events, next);
    }

    /// <summary>The entry of the stripe's first event after <paramref name="sequence"/> as of <paramref name="state"/> (moving it there), or <see langword="null"/>.</summary>
    private object? NextOf(EventStripeState state, int stripe, ref long sequence)
    {
        while (sequence < state.Count)
        {
            sequence++;
            if (state.Entry(sequence, _logs[stripe]) is { } found)
            {
                return found;
            }

            // Not in the log: purged (by a purge that may have passed it just now); go on after the prefix.
            var purged = _logs[stripe].PurgedThrough;
            if (sequence > purged)
            {
                throw new InvalidOperationException($"Event {sequence} of stripe {stripe} is missing from its log.");
            }

            sequence = purged;
        }

        return null;
    }

    /// <summary>Purges, stripe by stripe, the prefix of events covered by <paramref name="upTo"/> and older than <paramref name="before"/>.</summary>
    public long Purge(DateTimeOffset before, EventCursor upTo, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(upTo);
        long removed = 0;
        for (var stripe = 0; stripe < _cells.Length; stripe++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var state = StateOf(stripe);
            var limit = Math.Min(upTo[stripe], state.Count);
            var log = _logs[stripe];
            var target = log.PurgedThrough;
            while (target < limit && state.Entry(target + 1, log) is { } candidate && EventEntries.AtOf(candidate) < before)
            {
                target++;
            }

            removed += log.PurgeThrough(target);
        }

        return removed;
    }

    /// <summary>The cursor saved for a consumer, or <see langword="null"/>.</summary>
    public EventCursor? LoadCheckpoint(string consumer)
    {
        CheckpointNames.ThrowIfNotKeepable(consumer);
        return Volatile.Read(ref _checkpoints).TryGetValue(consumer, out var cursor) ? cursor : null;
    }

    /// <summary>Saves (replaces) a consumer's cursor, with a compare-and-swap of the immutable map.</summary>
    public void SaveCheckpoint(string consumer, EventCursor cursor)
    {
        CheckpointNames.ThrowIfNotKeepable(consumer);
        ArgumentNullException.ThrowIfNull(cursor);
        ImmutableInterlocked.Update(ref _checkpoints, static (map, item) => map.SetItem(item.Key, item.Value), (Key: consumer, Value: cursor));
    }
}
