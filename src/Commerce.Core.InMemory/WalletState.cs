using System.Numerics;
using Commerce.InMemory.LockFree;

namespace Commerce.InMemory;

/// <summary>
/// The state of a wallet cell: the wallet, the ledger entry its commit appended (if any), and the
/// user's <see cref="WalletAccount"/>, which keeps the older entries.
/// </summary>
/// <remarks>
/// A ledger entry is always committed with its wallet (the entry numbered n with the wallet whose
/// ledger length becomes n), so the wallet's multi-word CAS publishes it: it needs no cell and no index
/// entry of its own. The next commit on the wallet copies that entry into the account before it
/// installs anything (the entry is committed, so whoever copies it writes the same values), and only
/// then replaces the state. Hence in every state the wallet's cell holds: entries 1 … n−1 are in the
/// account, and entry n is <see cref="LatestRecord"/> (or, if that commit appended none, also in the account).
/// Entries are kept as ledger records (see <see cref="LedgerRecords"/>): the entry numbered n has the
/// wallet's balance as its balance after.
/// </remarks>
internal sealed class WalletState
{
    // The account's chunk that keeps LatestRecord once this state is replaced (null if it has none): found
    // when the state is made, most often as the chunk of the state it replaces, so that copying the
    // record forward reads no line of the account but the slot itself.
    private readonly WalletAccount.Slot[]? _chunk;

    /// <summary>A state whose commit appended <paramref name="latest"/> (or nothing), replacing <paramref name="previous"/> (or none) in the cell.</summary>
    public WalletState(Wallet wallet, object? latest, WalletAccount account, WalletState? previous = null)
    {
        Wallet = wallet;
        LatestRecord = latest;
        Account = account;
        if (latest is not null)
        {
            _chunk = previous?._chunk is { } chunk && WalletAccount.SameChunk(previous.Wallet.LedgerLength, wallet.LedgerLength)
                ? chunk
                : account.ChunkOf(wallet.LedgerLength);
        }
    }

    public Wallet Wallet { get; }

    /// <summary>The record of the entry appended by the commit that wrote this state, numbered <c>Wallet.LedgerLength</c>; or <see langword="null"/>.</summary>
    public object? LatestRecord { get; }

    /// <summary>The entry appended by the commit that wrote this state (see <see cref="LatestRecord"/>), or <see langword="null"/>.</summary>
    public LedgerEntry? Latest => LatestRecord is null ? null : LedgerRecords.EntryOf(LatestRecord, Wallet.LedgerLength, Wallet.Balance);

    public WalletAccount Account { get; }

    /// <summary>Entry <paramref name="sequence"/> of the ledger as of this state, or <see langword="null"/> if it has none.</summary>
    public LedgerEntry? Entry(long sequence)
    {
        if (sequence < 1 || sequence > Wallet.LedgerLength)
        {
            return null;
        }

        return LatestRecord is not null && sequence == Wallet.LedgerLength ? Latest : Account.Entry(sequence);
    }

    /// <summary>
    /// Starts loading the lines <see cref="CopyForward"/> and a read of <see cref="Wallet"/> will need (the
    /// wallet's, and the start of the chunk the latest record goes to), without waiting for them: a batch read
    /// calls it for every wallet it read, so that these misses overlap each other and the batch's others.
    /// </summary>
    public void PrefetchLines()
    {
        Prefetch.Line(Wallet);
        Prefetch.Line(_chunk);
    }

    /// <summary>Stores <see cref="LatestRecord"/> in the account, if any (idempotent): done before any state replaces this one.</summary>
    public void CopyForward()
    {
        if (LatestRecord is { } latest)
        {
            WalletAccount.Store(_chunk!, latest, Wallet.LedgerLength, Wallet.Balance);
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
    /// The record to keep for <paramref name="entry"/>, appended with <paramref name="wallet"/>: the order it
    /// pays, if <paramref name="changes"/> inserts that order and the entry says nothing the order and the
    /// wallet do not; else the entry.
    /// </summary>
    public static object RecordOf(LedgerEntry entry, Wallet wallet, ReadOnlySpan<Storage.Change> changes)
    {
        if (entry.Kind != LedgerEntryKind.Payment || entry.OrderId is not { } id
            || entry.Sequence != wallet.LedgerLength || entry.BalanceAfter != wallet.Balance)
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
/// One user's wallet cell and the committed entries of the user's ledger, by number, in chunks that
/// double in size (16, 32, 64 … entries): appending never copies, and reading is two array loads.
/// Entries are only ever written once committed, and every writer of a slot writes the same values,
/// so plain volatile writes suffice (no lock, no CAS except to publish a new chunk).
/// </summary>
internal sealed class WalletAccount(Cell cell)
{
    private const int FirstChunkBits = 4;
    private const int MaxChunks = 27; // 16 · (2^27 − 1) entries, about two billion

    private Slot[]?[]? _chunks;

    /// <summary>The wallet's cell.</summary>
    public Cell Cell { get; } = cell;

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

    /// <summary>Whether entries <paramref name="first"/> and <paramref name="second"/> (both from 1) are in one chunk.</summary>
    public static bool SameChunk(long first, long second) =>
        first >= 1 && second >= 1 && Locate(first).Chunk == Locate(second).Chunk;

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
