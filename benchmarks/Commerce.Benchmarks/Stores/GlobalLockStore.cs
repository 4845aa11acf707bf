using System.Runtime.InteropServices;
using Commerce.Storage;

namespace Commerce.Benchmarks.Stores;

/// <summary>
/// The naive baseline: one lock taken when a session opens and held until it commits or is disposed,
/// over plain dictionaries of immutable states (sales counts are plain numbers; stock is adjusted by
/// replacing its state). Nothing can conflict,
/// and nothing runs in parallel.
/// </summary>
/// <remarks>
/// The lock is held from a session's first read to its commit, so what it read is still current when
/// it commits. The commit checks the change set all the same (one lookup per key), so that the store
/// keeps the port's rules: an insert over a present key or an adjustment below its minimum fails.
/// </remarks>
internal sealed class GlobalLockStore : ICommerceStore
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly Dictionary<StoreKey, object> _rows = [];
    private readonly Dictionary<long, Dictionary<long, long>> _sales = []; // bucket → product → units
    private readonly Func<StoreKey, StoredState> _read;
    private long[] _productIds = [];

    public GlobalLockStore() => _read = Read;

    public ValueTask<IStoreSession> OpenSessionAsync(CancellationToken cancellationToken = default)
    {
        _gate.Wait(cancellationToken);
        return new(Session.Rent(this));
    }

    private StoredState Read(StoreKey key) => _rows.TryGetValue(key, out var state) ? new StoredState(state) : StoredState.Absent;

    private bool Commit(ChangeSet changes)
    {
        var span = changes.Changes;
        foreach (ref readonly var change in span)
        {
            var holds = change.Kind switch
            {
                ChangeKind.Read or ChangeKind.Update => ReferenceEquals(Read(change.Key).State, change.Seen.State),
                ChangeKind.Insert => !_rows.ContainsKey(change.Key),
                ChangeKind.Adjust when change.Key.Table == StoreTable.Stock => StoreReads.AdjustedStock(Read(change.Key).State, change) is not null,
                ChangeKind.Adjust => StoreReads.TryAdjust(SalesOf(change.Key), change, out _),
                _ => true, // Stable: a write-once state only read cannot change.
            };

            if (!holds)
            {
                return false;
            }
        }

        if (!StoreReads.RangesHold(_productIds, changes))
        {
            return false;
        }

        foreach (ref readonly var change in span)
        {
            switch (change.Kind)
            {
                case ChangeKind.Insert:
                    if (change.Key.Table == StoreTable.Products)
                    {
                        _productIds = StoreReads.WithProduct(_productIds, change.Key.Low);
                    }

                    _rows.Add(change.Key, change.State!);
                    break;

                case ChangeKind.Update:
                    _rows[change.Key] = change.State!;
                    break;

                case ChangeKind.Adjust when change.Key.Table == StoreTable.Stock:
                    _rows[change.Key] = StoreReads.AdjustedStock(_rows[change.Key], change)!;
                    break;

                case ChangeKind.Adjust:
                    if (!_sales.TryGetValue(change.Key.High, out var bucket))
                    {
                        _sales.Add(change.Key.High, bucket = []);
                    }

                    CollectionsMarshal.GetValueRefOrAddDefault(bucket, change.Key.Low, out _) += change.Delta;
                    break;
            }
        }

        return true;
    }

    /// <summary>Removes the idempotency records created before <paramref name="createdBefore"/> (a scan of every row: a baseline, not a design).</summary>
    private int PurgeIdempotency(DateTimeOffset createdBefore)
    {
        List<StoreKey>? expired = null;
        foreach (var (key, state) in _rows)
        {
            if (key.Table == StoreTable.Idempotency && state is IdempotencyRecord record && record.CreatedAt < createdBefore)
            {
                (expired ??= []).Add(key);
            }
        }

        foreach (var key in expired ?? [])
        {
            _rows.Remove(key);
        }

        return expired?.Count ?? 0;
    }

    private long SalesOf(in StoreKey key) =>
        _sales.TryGetValue(key.High, out var bucket) ? bucket.GetValueOrDefault(key.Low) : 0;

    private List<ProductSales> TopSales(long firstBucket, long endBucket, int count)
    {
        var totals = new Dictionary<long, long>();
        foreach (var (bucket, products) in _sales)
        {
            if (bucket >= firstBucket && bucket < endBucket)
            {
                foreach (var (product, units) in products)
                {
                    CollectionsMarshal.GetValueRefOrAddDefault(totals, product, out _) += units;
                }
            }
        }

        return StoreReads.Top(totals, count);
    }

    /// <summary>
    /// A session holds the store's lock from its opening to its commit or disposal. Each thread keeps the
    /// session it disposed last and hands it out again, so opening one allocates nothing; a disposed
    /// session must not be used again.
    /// </summary>
    private sealed class Session : IStoreSession
    {
        [ThreadStatic]
        private static Session? t_spare;

        private GlobalLockStore? _store;

        public static Session Rent(GlobalLockStore store)
        {
            var session = t_spare ?? new Session();
            t_spare = null;
            session._store = store;
            return session;
        }

        public ValueTask ReadAsync(ReadBatch batch, CancellationToken cancellationToken = default)
        {
            var store = Store;
            for (var i = 0; i < batch.Count; i++)
            {
                batch.SetResult(i, store.Read(batch[i]));
            }

            return ValueTask.CompletedTask;
        }

        public ValueTask<ProductRange> ReadProductsAsync(ProductId? after, int limit, ReadBatch rows, CancellationToken cancellationToken = default)
        {
            var store = Store;
            return new(StoreReads.ListProducts(store._productIds, after, limit, rows, store._read));
        }

        public ValueTask<SalesTop> ReadTopSalesAsync(long firstBucket, long endBucket, int count, ReadBatch rows, CancellationToken cancellationToken = default) =>
            new(new SalesTop(Store.TopSales(firstBucket, endBucket, count)));

        public ValueTask<int> PurgeIdempotencyAsync(DateTimeOffset createdBefore, CancellationToken cancellationToken = default)
        {
            // The session holds the store's lock: a unit of work that read a record removed here has not
            // committed yet, and its commit, which finds the record gone, fails.
            cancellationToken.ThrowIfCancellationRequested();
            return new(Store.PurgeIdempotency(createdBefore));
        }

        public ValueTask<bool> CommitAsync(ChangeSet changes, CancellationToken cancellationToken = default)
        {
            ArgumentNullException.ThrowIfNull(changes);
            cancellationToken.ThrowIfCancellationRequested();
            try
            {
                return new(Store.Commit(changes));
            }
            finally
            {
                Release();
            }
        }

        public ValueTask DisposeAsync()
        {
            Release();
            t_spare = this;
            return ValueTask.CompletedTask;
        }

        private GlobalLockStore Store => _store ?? throw new InvalidOperationException("The session has committed or been disposed.");

        private void Release()
        {
            if (_store is { } store)
            {
                _store = null;
                store._gate.Release();
            }
        }
    }
}
