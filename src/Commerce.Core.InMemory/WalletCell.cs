using System.Numerics;
using Commerce.InMemory.LockFree;
using Commerce.Storage;

namespace Commerce.InMemory;

/// <summary>
/// A user's wallet, held as numbers that only grow, each the word of a cell of the multi-word CAS: the ledger's
/// length (this cell's <see cref="WordCell.Word"/>), the money received (<see cref="Received"/>'s) and the money
/// spent (<see cref="Spent"/>'s); the balance is their difference. The cell's content is the record of the
/// ledger entry the last commit on the wallet appended (see <see cref="LedgerRecords"/>): for an order's payment,
/// the order itself. A commit thus changes a wallet without allocating anything for it.
/// </summary>
/// <remarks>
/// <para>
/// The wallet's keyed cell in the wallets' table holds this cell as its state from the commit that created the
/// wallet on: the wallet's every later change is here, but for the rare write that replaces the cell (below).
/// </para>
/// <para>
/// Every commit on the wallet writes its content, with an object new to the cell: the entry's record (an order or
/// an entry inserted once, so never seen here before), or a fresh <see cref="NoLedgerEntry"/> for a write that
/// appended none. So the content never comes back, as a state object never did, and a read of the four as of one
/// instant is a double collect on it (<see cref="Read"/>); and a commit that expects the content it read (with
/// the numbers it read then) expects the whole wallet. The numbers only grow, as every word cell's must (a
/// helper's late install, which expects a number a succeeded commit moved on, then fails): a debit adds to the
/// money spent, a charge or a refund to the money received, and an entry to the ledger's length.
/// </para>
/// <para>
/// A write the numbers cannot take in place (one that makes the ledger shorter, or moves more money in all than a
/// word holds) gives the wallet a new cell, sharing the account, in the same commit as it retires this one (see
/// <see cref="RetiredWallet"/>).
/// </para>
/// <para>
/// The entry numbered by the ledger's length is the content's record; every older one is in the
/// <see cref="Account"/>. Before a commit replaces the content, it stores that record there (it is committed, so
/// every copier writes the same values), with the balance it left. Hence in every state: entries 1 … n−1 are in
/// the account, and entry n is the content's record (or, if the content is none, also in the account).
/// </para>
/// </remarks>
internal sealed class WalletCell : WordCell
{
    /// <summary>
    /// A wallet of <paramref name="balance"/> with a ledger <paramref name="ledgerLength"/> long, whose latest record (or
    /// <see cref="NoLedgerEntry"/>) is <paramref name="content"/>, and whose older entries are in <paramref name="account"/>
    /// (a new one if <see langword="null"/>: the account of the cell this one replaces, if any).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="ledgerLength"/> or <paramref name="balance"/> is negative.</exception>
    public WalletCell(object content, long ledgerLength, long balance, WalletAccount? account = null)
        : base(ledgerLength, content)
    {
        Received = new WordCell(balance);
        Spent = new WordCell();
        Account = account ?? new WalletAccount();
    }

    /// <summary>The cell of the money received: the first balance, and every charge and refund since.</summary>
    public WordCell Received { get; }

    /// <summary>The cell of the money spent: every payment.</summary>
    public WordCell Spent { get; }

    /// <summary>The ledger's entries older than the latest.</summary>
    public WalletAccount Account { get; }

    /// <summary>
    /// The account's chunk that the latest record goes to when the next commit copies it forward, as the last copy
    /// found it (a hint, not state: any thread may replace it with a plain write, and whoever uses it checks that it is
    /// the chunk of the entry at hand). Kept here, on the line of the words, so that a read can prefetch the slot and
    /// a copy needs no walk through the account.
    /// </summary>
    internal WalletAccount.Slot[]? ChunkHint;

    /// <summary>
    /// The wallet as of one instant: its content, its three numbers, then its content again, until the two reads of
    /// the content agree. Every commit on the wallet writes a content new to the cell, so equal reads mean that no
    /// commit took effect between them, and the numbers read between them are that content's. Lock-free: a read is
    /// repeated only because another commit succeeded.
    /// </summary>
    public WalletSnapshot Read()
    {
        while (true)
        {
            var content = MultiWordCas.Read(this);
            var length = MultiWordCas.ReadWord(this);
            var received = MultiWordCas.ReadWord(Received);
            var spent = MultiWordCas.ReadWord(Spent);
            if (ReferenceEquals(MultiWordCas.Read(this), content))
            {
                return new(content, length, received, spent);
            }
        }
    }

    /// <summary>
    /// Starts loading the lines a read of the wallet's numbers will need (its two other words), without waiting for
    /// them: a batch read calls it for every wallet it read, so that these misses overlap each other and the batch's others.
    /// </summary>
    public void PrefetchLines()
    {
        Prefetch.Object(Received);
        Prefetch.Object(Spent);
        Prefetch.Object(Volatile.Read(ref Content)); // the latest record, whose type a read checks
        if (Volatile.Read(ref Word) is var length and > 0 && ChunkHint is { } chunk)
        {
            Prefetch.Object(chunk); // its length, which the copy checks: on another line than the slot, in any chunk but the first
            WalletAccount.PrefetchSlot(chunk, length); // where the next commit copies that record
        }
    }
}

/// <summary>The content of a wallet's cell written by a commit that appended no ledger entry: new at each such commit.</summary>
internal sealed class NoLedgerEntry
{
    public override string ToString() => "(no ledger entry)";
}

/// <summary>
/// The last content of a wallet's cell that a new one replaced (in the same commit as the wallet's keyed cell came to
/// hold the new one): for a write the numbers cannot take in place, one that makes the ledger shorter (a host's own
/// write; each number only grows), or that moves more money in all through the wallet than a word holds. A commit
/// that read the old cell then fails, and a read finds the new one.
/// </summary>
internal sealed class RetiredWallet
{
    public override string ToString() => "(replaced)";
}

/// <summary>A wallet as of one instant (see <see cref="WalletCell.Read"/>).</summary>
internal readonly struct WalletSnapshot(object content, long ledgerLength, long received, long spent)
{
    /// <summary>The cell's content: the latest entry's record, or a <see cref="NoLedgerEntry"/>.</summary>
    public object Content { get; } = content;

    /// <summary>How many entries the ledger has.</summary>
    public long LedgerLength { get; } = ledgerLength;

    /// <summary>The money received.</summary>
    public long Received { get; } = received;

    /// <summary>The money spent.</summary>
    public long Spent { get; } = spent;

    /// <summary>The balance: what was received and not spent.</summary>
    public Money Balance => new(Received - Spent);

    /// <summary>
    /// The version a read gives (<see cref="StoredState.Version"/>): the sum of the three numbers, which all only grow,
    /// so equal versions at two instants mean that no number moved between them (wrapping around only past more
    /// money than a wallet can hold, many times over).
    /// </summary>
    public long Version => unchecked(LedgerLength + Received + Spent);

    /// <summary>The record of the entry numbered <see cref="LedgerLength"/>, if the commit that wrote this state appended one.</summary>
    public object? LatestRecord => Content is NoLedgerEntry or RetiredWallet ? null : Content;

    /// <summary>Whether the cell was replaced (see <see cref="RetiredWallet"/>): its numbers are no longer the wallet's.</summary>
    public bool IsRetired => Content is RetiredWallet;

    /// <summary>Entry <paramref name="sequence"/> of the ledger as of this state, or <see langword="null"/> if it has none.</summary>
    public LedgerEntry? Entry(long sequence, WalletAccount account)
    {
        if (sequence < 1 || sequence > LedgerLength)
        {
            return null;
        }

        return sequence == LedgerLength && LatestRecord is { } latest
            ? LedgerRecords.EntryOf(latest, sequence, Balance)
            : account.Entry(sequence);
    }

    /// <summary>Stores <see cref="LatestRecord"/> in <paramref name="wallet"/>'s account, if any (idempotent): done before any commit replaces this state.</summary>
    public void CopyForward(WalletCell wallet)
    {
        if (LatestRecord is { } latest)
        {
            var chunk = WalletAccount.IsChunkOf(wallet.ChunkHint, LedgerLength) ? wallet.ChunkHint! : wallet.Account.ChunkOf(LedgerLength);
            WalletAccount.Store(chunk, latest, LedgerLength, Balance);
            wallet.ChunkHint = chunk; // most often, the next entry's chunk too
        }
    }
}

/// <summary>
/// How the store keeps a ledger entry: the <see cref="LedgerEntry"/> itself; or, for the payment of an order
/// its commit inserts, that <see cref="Order"/>, whose number and balance after the wallet's state (or the
/// account's slot) holds. The orders' table keeps the order anyway, so such a payment costs a reference and
/// a number where an entry takes 96 bytes. A reader gets the entry back, equal to the one committed.
/// </summary>
internal static class LedgerRecords
{
    /// <summary>
    /// The record to keep for <paramref name="entry"/>, appended with a wallet whose ledger becomes
    /// <paramref name="ledgerLength"/> long and whose balance becomes <paramref name="balance"/>: the order it pays,
    /// if <paramref name="changes"/> inserts that order and the entry says nothing the order and the wallet do not;
    /// else the entry.
    /// </summary>
    public static object RecordOf(LedgerEntry entry, long ledgerLength, Money balance, ReadOnlySpan<Storage.Change> changes)
    {
        if (entry.Kind != LedgerEntryKind.Payment || entry.OrderId is not { } id
            || entry.Sequence != ledgerLength || entry.BalanceAfter != balance)
        {
            return entry;
        }

        foreach (ref readonly var change in changes)
        {
            if (change.Key.Table == Storage.StoreTable.Orders && change.Kind == Storage.ChangeKind.Insert && change.State is Order order && order.Id == id)
            {
                return order.UserId == entry.UserId && order.Total == entry.Amount && order.PlacedAt.EqualsExact(entry.At) ? order : entry;
            }
        }

        return entry;
    }

    /// <summary>The entry of a record, numbered <paramref name="sequence"/> with <paramref name="balanceAfter"/> (made again for a payment kept as its order).</summary>
    public static LedgerEntry EntryOf(object record, long sequence, Money balanceAfter) => record is Order order
        ? new LedgerEntry(sequence, order.UserId, LedgerEntryKind.Payment, order.Total, balanceAfter, order.Id, order.PlacedAt)
        : (LedgerEntry)record;
}

/// <summary>
/// The committed entries of one user's ledger, by number, in chunks that double in size (16, 32, 64 …
/// entries): appending never copies, and reading is two array loads. Entries are only ever written once
/// committed, and every writer of a slot writes the same values, so plain volatile writes suffice (no lock,
/// no CAS except to publish a new chunk).
/// </summary>
internal sealed class WalletAccount
{
    private const int FirstChunkBits = 4;
    private const int MaxChunks = 27; // 16 · (2^27 − 1) entries, about two billion

    private Slot[]?[]? _chunks;

    /// <summary>The entry numbered <paramref name="sequence"/> (from 1), or <see langword="null"/> if it was not stored here.</summary>
    public LedgerEntry? Entry(long sequence)
    {
        var (chunk, offset) = Locate(sequence);
        var chunks = Volatile.Read(ref _chunks);
        var slots = chunks is null ? null : Volatile.Read(ref chunks[chunk]);
        if (slots is null || Volatile.Read(ref slots[offset].Record) is not { } record)
        {
            return null;
        }

        return LedgerRecords.EntryOf(record, sequence, new Money(slots[offset].BalanceAfter)); // written before the record
    }

    /// <summary>Stores a committed entry at its number (idempotent: storing it again changes nothing).</summary>
    public void Store(LedgerEntry entry) => Store(ChunkOf(entry.Sequence), entry, entry.Sequence, entry.BalanceAfter);

    /// <summary>Stores a committed entry's record at its number in <paramref name="slots"/>, its chunk (<see cref="ChunkOf"/>; idempotent).</summary>
    public static void Store(Slot[] slots, object record, long sequence, Money balanceAfter)
    {
        var offset = Locate(sequence).Offset;

        // The number first: a reader that sees the record sees its number (every writer writes the same ones).
        Volatile.Write(ref slots[offset].BalanceAfter, balanceAfter.Amount);
        Volatile.Write(ref slots[offset].Record, record);
    }

    /// <summary>The chunk that holds entry <paramref name="sequence"/>, created (once, by CAS) if it was not yet.</summary>
    public Slot[] ChunkOf(long sequence)
    {
        var chunk = Locate(sequence).Chunk;
        var chunks = Volatile.Read(ref _chunks)
            ?? Interlocked.CompareExchange(ref _chunks, new Slot[]?[MaxChunks], null)
            ?? _chunks;
        var slots = Volatile.Read(ref chunks[chunk]);
        if (slots is null)
        {
            var created = new Slot[1 << (FirstChunkBits + chunk)];
            slots = Interlocked.CompareExchange(ref chunks[chunk], created, null) ?? created;
        }

        return slots;
    }

    /// <summary>Whether <paramref name="slots"/> is the chunk of entry <paramref name="sequence"/> (from 1): each chunk has a length of its own.</summary>
    public static bool IsChunkOf(Slot[]? slots, long sequence) =>
        slots is not null && slots.Length == 1 << (FirstChunkBits + Locate(sequence).Chunk);

    /// <summary>
    /// Starts loading the line of entry <paramref name="sequence"/>'s slot in <paramref name="slots"/>, were that its
    /// chunk, without waiting for it. Reads nothing of the chunk (not even its length): a wrong chunk only loads a
    /// line nobody needs, and a prefetch never faults, whatever the address (see <see cref="Prefetch.Element{T}(T[], int)"/>).
    /// </summary>
    public static void PrefetchSlot(Slot[] slots, long sequence)
    {
        if (sequence < 1 || sequence > ((1L << MaxChunks) - 1) << FirstChunkBits)
        {
            return; // (a ledger length a host wrote without its entries, past what an account holds: nothing to load)
        }

        Prefetch.Element(slots, Locate(sequence).Offset);
    }

    /// <summary>
    /// The chunk and offset of an entry: chunk c holds 2^(4+c) entries, starting at index 16·(2^c − 1).
    /// </summary>
    private static (int Chunk, int Offset) Locate(long sequence)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(sequence, 1);
        var index = (ulong)(sequence - 1);
        var chunk = BitOperations.Log2((index >> FirstChunkBits) + 1);
        if (chunk >= MaxChunks)
        {
            throw new ArgumentOutOfRangeException(nameof(sequence), sequence, "A ledger holds fewer entries.");
        }

        var start = ((1UL << chunk) - 1) << FirstChunkBits;
        return (chunk, (int)(index - start));
    }

    /// <summary>A stored entry: its record, and its balance after (read only for a payment kept as its order).</summary>
    internal struct Slot
    {
        public object? Record;
        public long BalanceAfter;
    }
}

/// <summary>A list that holds its first item inline: a commit names one wallet and one ledger entry, rarely more.</summary>
internal struct SmallList<T>
{
    private T _first;
    private List<T>? _more;

    public int Count { readonly get; private set; }

    public readonly bool IsEmpty => Count == 0;

    public readonly T this[int index] => index == 0 && Count > 0 ? _first : _more![index - 1];

    public void Add(T item)
    {
        if (Count == 0)
        {
            _first = item;
        }
        else
        {
            (_more ??= []).Add(item);
        }

        Count++;
    }

    public void RemoveAt(int index)
    {
        if (index == 0)
        {
            if (Count > 1)
            {
                _first = _more![0];
                _more.RemoveAt(0);
            }
            else
            {
                _first = default!;
            }
        }
        else
        {
            _more!.RemoveAt(index - 1);
        }

        Count--;
    }
}
