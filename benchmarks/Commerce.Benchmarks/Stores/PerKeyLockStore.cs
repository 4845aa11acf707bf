using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using Commerce.Storage;

namespace Commerce.Benchmarks.Stores;

/// <summary>
/// The row-lock baseline: reads take no lock; at commit the session locks the row of every key read or
/// written, in one global order (<see cref="StoreKey"/> order, so commits never deadlock), checks that
/// each still holds the state it read (by reference: states are immutable and never reused), writes,
/// and unlocks. Products and ledger entries only read are neither locked nor checked: once present they
/// cannot change.
/// </summary>
/// <remarks>
/// A sales count is a number in its row. A commit marks every sales row it adjusts (an odd sequence
/// number) before it changes any of them and unmarks them after it changed all, so that a ranking read,
/// which takes no lock either, can tell whether it saw every commit whole (see <see cref="TopSales"/>).
/// </remarks>
internal sealed class PerKeyLockStore : ICommerceStore
{
    // The rows a commit locks, sorted by key; built on the committing thread.
    [ThreadStatic]
    private static Locked[]? t_locked;

    private readonly ConcurrentDictionary<StoreKey, Row> _rows = new();
    private readonly ConcurrentDictionary<long, ConcurrentDictionary<long, SalesRow>> _sales = new(); // bucket → product → row
    private readonly Lock _productIdsGate = new();
    private readonly Session _session;
    private readonly Func<StoreKey, StoredState> _read;
    private long[] _productIds = [];

    public PerKeyLockStore()
    {
        _session = new Session(this);
        _read = Read;
    }

    /// <summary>Opens a session. Sessions keep no state between calls, so every unit of work shares one.</summary>
    public ValueTask<IStoreSession> OpenSessionAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return new(_session);
    }

    private StoredState Read(StoreKey key) =>
        _rows.TryGetValue(key, out var row) ? new StoredState(row.State, 0, row) : StoredState.Absent;

    private SalesRow SalesRowOf(in StoreKey key) => key.Table == StoreTable.Sales
        ? _sales.GetOrAdd(key.High, static _ => new()).GetOrAdd(key.Low, static _ => new SalesRow())
        : throw new NotSupportedException($"Only sales counts are adjusted in this store, not {key}.");

    private bool Commit(ChangeSet changes)
    {
        var span = changes.Changes;
        var checks = changes.ProductRanges.Count;
        foreach (ref readonly var change in span)
        {
            checks += change.Kind == ChangeKind.Stable ? 0 : 1;
        }

        // One read is a snapshot by itself.
        if (!changes.HasWrites && checks <= 1)
        {
            return true;
        }

        var locked = t_locked is { } scratch && scratch.Length >= span.Length ? scratch : (t_locked = new Locked[Math.Max(8, span.Length)]);
        var count = 0;
        for (var i = 0; i < span.Length; i++)
        {
            ref readonly var change = ref span[i];
            object? row = change.Kind switch
            {
                ChangeKind.Stable => null,
                ChangeKind.Adjust when change.Key.Table == StoreTable.Sales => SalesRowOf(change.Key),
                _ => change.Seen.Handle as Row ?? _rows.GetOrAdd(change.Key, static _ => new Row()),
            };

            if (row is not null)
            {
                locked[count++] = new Locked { Key = change.Key, Row = row, Change = i };
            }
        }

        var rows = locked.AsSpan(0, count);
        rows.Sort(KeyOrder);
        var entered = 0;
        try
        {
            for (; entered < rows.Length; entered++)
            {
                Monitor.Enter(rows[entered].Row);
            }

            if (!Check(span, rows, changes))
            {
                return false;
            }

            Write(span, rows);
            return true;
        }
        finally
        {
            for (var i = entered - 1; i >= 0; i--)
            {
                Monitor.Exit(rows[i].Row);
            }

            // The scratch keeps no row alive.
            rows.Clear();
        }
    }

    /// <summary>The one global lock order: <see cref="StoreKey.CompareTo"/>.</summary>
    private static int KeyOrder(Locked a, Locked b) => a.Key.CompareTo(b.Key);

    /// <summary>With every row locked: whether every read still holds, every insert finds its key absent and every adjustment stays above its minimum.</summary>
    private bool Check(ReadOnlySpan<Change> changes, Span<Locked> rows, ChangeSet changeSet)
    {
        foreach (ref var locked in rows)
        {
            ref readonly var change = ref changes[locked.Change];
            var holds = change.Kind switch
            {
                ChangeKind.Read or ChangeKind.Update => ReferenceEquals(((Row)locked.Row).State, change.Seen.State),
                ChangeKind.Insert => ((Row)locked.Row).State is null,
                ChangeKind.Adjust when locked.Row is Row stock => (locked.Stock = StoreReads.AdjustedStock(stock.State, change)) is not null,
                _ => StoreReads.TryAdjust(((SalesRow)locked.Row).Units, change, out locked.Units),
            };

            if (!holds)
            {
                return false;
            }
        }

        return StoreReads.RangesHold(Volatile.Read(ref _productIds), changeSet);
    }

    /// <summary>With every row locked and checked: applies the writes.</summary>
    private void Write(ReadOnlySpan<Change> changes, Span<Locked> rows)
    {
        var sales = false;
        foreach (ref readonly var locked in rows)
        {
            ref readonly var change = ref changes[locked.Change];
            if (change.Kind == ChangeKind.Insert && change.Key.Table == StoreTable.Products)
            {
                // Listed before it can be seen: a listing that meets the id before the product checks at commit that it is still absent.
                AddProductId(change.Key.Low);
            }

            if (change.Kind == ChangeKind.Adjust && locked.Row is SalesRow)
            {
                sales = true;
                MarkSales(locked.Row);
            }
        }

        foreach (ref readonly var locked in rows)
        {
            ref readonly var change = ref changes[locked.Change];
            switch (change.Kind)
            {
                case ChangeKind.Insert or ChangeKind.Update:
                    ((Row)locked.Row).State = change.State;
                    break;
                case ChangeKind.Adjust when locked.Row is Row stock:
                    stock.State = locked.Stock;
                    break;
                case ChangeKind.Adjust:
                    Volatile.Write(ref ((SalesRow)locked.Row).Units, locked.Units);
                    break;
            }
        }

        if (sales)
        {
            foreach (ref readonly var locked in rows)
            {
                if (changes[locked.Change].Kind == ChangeKind.Adjust && locked.Row is SalesRow)
                {
                    MarkSales(locked.Row);
                }
            }
        }

        // Odd while the commit writes, even otherwise; the row's lock is held, so nothing else changes it.
        static void MarkSales(object row)
        {
            var salesRow = (SalesRow)row;
            Volatile.Write(ref salesRow.Sequence, salesRow.Sequence + 1);
        }
    }

    /// <summary>
    /// Empties the row of every idempotency record created before <paramref name="createdBefore"/>, one row
    /// at a time under its lock (the row itself stays, as the handle units of work may hold): a commit that
    /// read a record removed here finds the row changed and fails. A scan of every row: a baseline, not a design.
    /// </summary>
    private int PurgeIdempotency(DateTimeOffset createdBefore, CancellationToken cancellationToken)
    {
        var purged = 0;
        foreach (var (key, row) in _rows)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (key.Table != StoreTable.Idempotency)
            {
                continue;
            }

            Monitor.Enter(row);
            try
            {
                if (row.State is IdempotencyRecord record && record.CreatedAt < createdBefore)
                {
                    row.State = null;
                    purged++;
                }
            }
            finally
            {
                Monitor.Exit(row);
            }
        }

        return purged;
    }

    private void AddProductId(long id)
    {
        lock (_productIdsGate)
        {
            Volatile.Write(ref _productIds, StoreReads.WithProduct(_productIds, id));
        }
    }

    /// <summary>
    /// The best sellers over buckets [<paramref name="firstBucket"/>, <paramref name="endBucket"/>), read
    /// without locks: the rows are summed, then their sequence numbers read again. If every row was
    /// unmarked the first time and none has changed since, no commit was writing any of them between the
    /// two passes, so the totals are what the rows held at one instant.
    /// </summary>
    private SalesTop TopSales(long firstBucket, long endBucket, int count)
    {
        var totals = new Dictionary<long, long>();
        var consistent = true;
        long sequences = 0;
        foreach (var (bucket, products) in _sales)
        {
            if (bucket >= firstBucket && bucket < endBucket)
            {
                foreach (var (product, row) in products)
                {
                    var sequence = Volatile.Read(ref row.Sequence);
                    consistent &= (sequence & 1) == 0;
                    sequences += sequence;
                    var units = Volatile.Read(ref row.Units);
                    if (units != 0)
                    {
                        CollectionsMarshal.GetValueRefOrAddDefault(totals, product, out _) += units;
                    }
                }
            }
        }

        // Sequence numbers only grow, so equal sums mean that no row changed (a row found only now adds its own).
        foreach (var (bucket, products) in _sales)
        {
            if (bucket >= firstBucket && bucket < endBucket)
            {
                foreach (var (_, row) in products)
                {
                    sequences -= Volatile.Read(ref row.Sequence);
                }
            }
        }

        return new SalesTop(StoreReads.Top(totals, count), consistent && sequences == 0);
    }

    /// <summary>One aggregate's row: its current state (<see langword="null"/> if absent); commits lock the row itself.</summary>
    private sealed class Row
    {
        public volatile object? State;
    }

    /// <summary>One sales count's row; commits lock the row itself.</summary>
    private sealed class SalesRow
    {
        public long Units;

        /// <summary>Odd while a commit is writing this row (and the other sales rows of its change set).</summary>
        public long Sequence;
    }

    /// <summary>A row a commit locks: its key (the lock order), the row, its change, and for a sales row the adjusted count.</summary>
    private struct Locked
    {
        public StoreKey Key;
        public object Row;
        public int Change;
        public long Units;
        public StockItem? Stock;
    }

    /// <summary>The store's side of every unit of work: reads are immediate and a commit locks, checks and writes in one call.</summary>
    private sealed class Session(PerKeyLockStore store) : IStoreSession
    {
        public ValueTask ReadAsync(ReadBatch batch, CancellationToken cancellationToken = default)
        {
            for (var i = 0; i < batch.Count; i++)
            {
                batch.SetResult(i, store.Read(batch[i]));
            }

            return ValueTask.CompletedTask;
        }

        public ValueTask<ProductRange> ReadProductsAsync(ProductId? after, int limit, ReadBatch rows, CancellationToken cancellationToken = default) =>
            new(StoreReads.ListProducts(Volatile.Read(ref store._productIds), after, limit, rows, store._read));

        public ValueTask<SalesTop> ReadTopSalesAsync(long firstBucket, long endBucket, int count, ReadBatch rows, CancellationToken cancellationToken = default) =>
            new(store.TopSales(firstBucket, endBucket, count));

        public ValueTask<bool> CommitAsync(ChangeSet changes, CancellationToken cancellationToken = default)
        {
            ArgumentNullException.ThrowIfNull(changes);
            cancellationToken.ThrowIfCancellationRequested();
            return new(store.Commit(changes));
        }

        public ValueTask<int> PurgeIdempotencyAsync(DateTimeOffset createdBefore, CancellationToken cancellationToken = default) =>
            new(store.PurgeIdempotency(createdBefore, cancellationToken));

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
