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
/// installs anything (the entry is committed, so whoever copies it writes the same reference), and only
/// then replaces the state. Hence in every state the wallet's cell holds: entries 1 … n−1 are in the
/// account, and entry n is <see cref="Latest"/> (or, if that commit appended none, also in the account).
/// </remarks>
internal sealed class WalletState(Wallet wallet, LedgerEntry? latest, WalletAccount account)
{
    public Wallet Wallet { get; } = wallet;

    /// <summary>The entry appended by the commit that wrote this state, numbered <c>Wallet.LedgerLength</c>; or <see langword="null"/>.</summary>
    public LedgerEntry? Latest { get; } = latest;

    public WalletAccount Account { get; } = account;

    /// <summary>Entry <paramref name="sequence"/> of the ledger as of this state, or <see langword="null"/> if it has none.</summary>
    public LedgerEntry? Entry(long sequence)
    {
        if (sequence < 1 || sequence > Wallet.LedgerLength)
        {
            return null;
        }

        return Latest is { } latest && latest.Sequence == sequence ? latest : Account.Entry(sequence);
    }
}

/// <summary>
/// One user's wallet cell and the committed entries of the user's ledger, by number, in chunks that
/// double in size (16, 32, 64 … entries): appending never copies, and reading is two array loads.
/// Entries are only ever written once committed, and every writer of a slot writes the same reference,
/// so plain volatile writes suffice (no lock, no CAS except to publish a new chunk).
/// </summary>
internal sealed class WalletAccount(Cell cell)
{
    private const int FirstChunkBits = 4;
    private const int MaxChunks = 27; // 16 · (2^27 − 1) entries, about two billion

    private LedgerEntry?[]?[]? _chunks;

    /// <summary>The wallet's cell.</summary>
    public Cell Cell { get; } = cell;

    /// <summary>The entry numbered <paramref name="sequence"/> (from 1), or <see langword="null"/> if it was not stored here.</summary>
    public LedgerEntry? Entry(long sequence)
    {
        var (chunk, offset) = Locate(sequence);
        var chunks = Volatile.Read(ref _chunks);
        var entries = chunks is null ? null : Volatile.Read(ref chunks[chunk]);
        return entries is null ? null : Volatile.Read(ref entries[offset]);
    }

    /// <summary>Stores a committed entry at its number (idempotent: storing it again changes nothing).</summary>
    public void Store(LedgerEntry entry)
    {
        var (chunk, offset) = Locate(entry.Sequence);
        var chunks = Volatile.Read(ref _chunks)
            ?? Interlocked.CompareExchange(ref _chunks, new LedgerEntry?[]?[MaxChunks], null)
            ?? _chunks;
        var entries = Volatile.Read(ref chunks[chunk]);
        if (entries is null)
        {
            var created = new LedgerEntry?[1 << (FirstChunkBits + chunk)];
            entries = Interlocked.CompareExchange(ref chunks[chunk], created, null) ?? created;
        }

        Volatile.Write(ref entries[offset], entry);
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
