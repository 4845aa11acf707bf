using System.IO.Hashing;
using Commerce.Events;
using Commerce.InMemory.LockFree;
using Commerce.Storage;

namespace Commerce.InMemory;

/// <summary>
/// The lock-free in-memory store: one <see cref="Cell"/> per aggregate, committed with
/// <see cref="MultiWordCas"/> (a wallet's numbers and its latest ledger entry are words and a state of its cell: see <see cref="WalletCell"/>;
/// events on the states of their stripes: see <see cref="EventStripes"/>).
/// Thread-safe; state lives as long as the store (normally the host). Disposing it (its service provider
/// does) ends the waits for events under way and refuses new sessions and event calls with
/// <see cref="ObjectDisposedException"/>; sessions opened before go on to their end.
/// </summary>
internal sealed class InMemoryCommerceStore : ICommerceStore, IEventStore, IIdempotencyDigest, IStoresPaymentsAsOrders, IStoresCompactIdempotencyRecords, IDisposable
{
    private readonly InMemorySession _session;

    // Set once, by Dispose; read (plainly) by each call that opens a session or reaches the events.
    private int _disposed;

    // Idempotency keys and requests are digested with XXH3 (64 bits), seeded per store: nothing outlives
    // the process, so the digest need not be SHA-256 (which costs about a microsecond a call here, twice
    // per keyed order), and a random seed keeps a client from choosing keys whose digests collide.
    private readonly long _digestSeed;

    public InMemoryCommerceStore()
        : this(Random.Shared.NextInt64())
    {
    }

    /// <summary>A store whose idempotency digests use <paramref name="digestSeed"/> (tests pick one).</summary>
    internal InMemoryCommerceStore(long digestSeed)
    {
        _session = new InMemorySession(this);
        _digestSeed = digestSeed;
    }

    public CellTable Wallets { get; } = new();

    public CellTable Products { get; } = new();

    public CellTable Inventory { get; } = new();

    public CellTable Carts { get; } = new();

    public CellTable Orders { get; } = new SkipListCellTable();

    public GenerationalCellTable Idempotency { get; } = new();

    public SalesCellTable Sales { get; } = new();

    public ProductIndex ProductIds { get; } = new();

    /// <inheritdoc />
    public long Digest(ReadOnlySpan<byte> data) => unchecked((long)XxHash3.HashToUInt64(data, _digestSeed));

    /// <summary>The event log: its stripes are cells of the multi-word CAS.</summary>
    public EventStripes Events { get; } = new();

    /// <inheritdoc />
    public int StripeCount => Events.StripeCount;

    /// <summary>A test seam: called on the committing thread after it installs its descriptor in the i-th cell.</summary>
    internal Action<CommitDescriptor, int>? AfterInstall { get; set; }

    /// <summary>A test seam: called on the committing thread right before each multi-word CAS of a commit (after it read the event stripes).</summary>
    internal Action? BeforeCas { get; set; }

    /// <summary>A test seam: called on the committing thread once a write commit found its listed ranges unchanged.</summary>
    internal Action? AfterRangeCheck { get; set; }

    /// <summary>
    /// Opens a session. The store's session keeps no state between calls (reads are immediate and a commit
    /// is one multi-word CAS), so every unit of work shares one, and opening allocates nothing.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The store was disposed.</exception>
    public ValueTask<IStoreSession> OpenSessionAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        ThrowIfDisposed();
        return new(_session);
    }

    /// <summary>
    /// Ends the waits for events under way with <see cref="ObjectDisposedException"/>, and refuses new sessions
    /// and event calls the same way, as the PostgreSQL store does once disposed; the data is left to the
    /// collector. Idempotent (a service provider may call it once per service it resolved to this store).
    /// </summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            Events.Close();
        }
    }

    /// <summary>Throws <see cref="ObjectDisposedException"/> if the store was disposed.</summary>
    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);

    /// <summary>The cells of a table.</summary>
    public CellTable TableOf(StoreTable table) => table switch
    {
        StoreTable.Wallets => Wallets,
        StoreTable.Products => Products,
        StoreTable.Stock => Inventory,
        StoreTable.Carts => Carts,
        StoreTable.Orders => Orders,
        StoreTable.Sales => Sales,
        StoreTable.Ledger => throw new InvalidOperationException("Ledger entries are kept with their wallets (see WalletCell), not in cells of their own."),
        StoreTable.Idempotency => Idempotency,
        _ => throw new ArgumentOutOfRangeException(nameof(table), table, "Unknown table."),
    };

    /// <inheritdoc />
    public ValueTask<EventPage> ReadEventsAsync(EventCursor after, int limit, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        ThrowIfDisposed();
        return new(Events.Read(after, limit));
    }

    /// <inheritdoc />
    public ValueTask WaitForEventsAsync(EventCursor after, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(after);
        cancellationToken.ThrowIfCancellationRequested(); // as on every store, even when an event is there already
        ThrowIfDisposed();
        return Events.HasEventsAfter(after) ? ValueTask.CompletedTask : Events.WaitAsync(after, cancellationToken);
    }

    /// <inheritdoc />
    public ValueTask<EventCursor?> LoadCheckpointAsync(string consumer, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        ThrowIfDisposed();
        return new(Events.LoadCheckpoint(consumer));
    }

    /// <inheritdoc />
    public ValueTask SaveCheckpointAsync(string consumer, EventCursor cursor, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        ThrowIfDisposed();
        Events.SaveCheckpoint(consumer, cursor);
        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    public ValueTask<long> PurgeEventsAsync(DateTimeOffset before, EventCursor upTo, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        return new(Events.Purge(before, upTo, cancellationToken));
    }
}
