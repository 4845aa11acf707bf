using Commerce.Storage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Commerce.Tests.Support;

/// <summary>
/// The smallest store the services run on, so that the core's tests need no adapter: every row in one
/// dictionary under one lock, each with a version; a commit checks every read against the versions and
/// applies every write, or nothing. Its one stateless session serves every unit of work.
/// </summary>
internal sealed class FakeStore : ICommerceStore
{
    private readonly Lock _lock = new();
    private readonly Dictionary<StoreKey, (object State, long Version)> _rows = [];
    private readonly SortedSet<long> _productIds = [];
    private readonly Session _session;
    private long _version;

    public FakeStore() => _session = new Session(this);

    /// <summary>How many idempotency records the store holds.</summary>
    public int IdempotencyRecords
    {
        get
        {
            lock (_lock)
            {
                return _rows.Count(r => r.Value.State is IdempotencyRecord);
            }
        }
    }

    public ValueTask<IStoreSession> OpenSessionAsync(CancellationToken cancellationToken = default) => new(_session);

    private ValueTask ReadAsync(ReadBatch batch)
    {
        lock (_lock)
        {
            for (var i = 0; i < batch.Count; i++)
            {
                batch.SetResult(i, Read(batch[i]));
            }
        }

        return ValueTask.CompletedTask;
    }

    private ValueTask<ProductRange> ReadProductsAsync(ProductId? after, int limit, ReadBatch rows)
    {
        lock (_lock)
        {
            var page = _productIds.Where(id => after is null || id > after.Value.Value).Take(limit).ToList();
            foreach (var id in page)
            {
                rows.Add(StoreKey.ForProduct(new ProductId(id)), Read(StoreKey.ForProduct(new ProductId(id))));
                rows.Add(StoreKey.ForStock(new ProductId(id)), Read(StoreKey.ForStock(new ProductId(id))));
            }

            return new(new ProductRange(after, page.Count == limit ? page[^1] : long.MaxValue, page.Count));
        }
    }

    private ValueTask<SalesTop> ReadTopSalesAsync(long firstBucket, long endBucket, int count)
    {
        lock (_lock)
        {
            var top = _rows
                .Where(r => r.Key.Table == StoreTable.Sales && r.Key.High >= firstBucket && r.Key.High < endBucket)
                .GroupBy(r => r.Key.Low, r => (long)r.Value.State)
                .Select(g => new ProductSales(new ProductId(g.Key), g.Sum()))
                .Where(s => s.Quantity > 0)
                .OrderByDescending(s => s.Quantity)
                .ThenBy(s => s.ProductId.Value)
                .Take(count)
                .ToList();
            return new(new SalesTop(top));
        }
    }

    private ValueTask<bool> CommitAsync(ChangeSet changes)
    {
        lock (_lock)
        {
            if (!Holds(changes))
            {
                return new(false);
            }

            foreach (var change in changes.Changes)
            {
                switch (change.Kind)
                {
                    case ChangeKind.Insert or ChangeKind.Update:
                        _rows[change.Key] = (change.State!, ++_version);
                        if (change.Key.Table == StoreTable.Products)
                        {
                            _productIds.Add(change.Key.Low);
                        }

                        break;
                    case ChangeKind.Adjust when change.Key.Table == StoreTable.Stock:
                        _rows[change.Key] = (new StockItem(change.Key.ProductId, (int)(Number(change.Key) + change.Delta)), ++_version);
                        break;
                    case ChangeKind.Adjust:
                        _rows[change.Key] = (Number(change.Key) + change.Delta, ++_version);
                        break;
                }
            }

            return new(true);
        }
    }

    /// <summary>Whether every read, absence, minimum and listed range of the change set still holds.</summary>
    private bool Holds(ChangeSet changes)
    {
        foreach (var change in changes.Changes)
        {
            var holds = change.Kind switch
            {
                ChangeKind.Stable => true,
                ChangeKind.Read or ChangeKind.Update => Read(change.Key) is var now && ReferenceEquals(now.State, change.Seen.State) && now.Version == change.Seen.Version,
                ChangeKind.Insert => !_rows.ContainsKey(change.Key),
                ChangeKind.Adjust => Number(change.Key) + change.Delta is var next && next >= change.Minimum
                    && (change.Key.Table != StoreTable.Stock || (_rows.ContainsKey(change.Key) && next <= int.MaxValue)),
                _ => false,
            };
            if (!holds)
            {
                return false;
            }
        }

        return changes.ProductRanges.All(r => _productIds.Count(id => (r.After is null || id > r.After.Value.Value) && id <= r.UpTo) == r.Count);
    }

    private StoredState Read(StoreKey key) => _rows.TryGetValue(key, out var row) ? new(row.State, row.Version) : StoredState.Absent;

    /// <summary>The number at an adjusted key; the services adjust sales and stock.</summary>
    private long Number(StoreKey key) => key.Table switch
    {
        StoreTable.Sales => _rows.TryGetValue(key, out var row) ? (long)row.State : 0,
        StoreTable.Stock => _rows.TryGetValue(key, out var row) ? ((StockItem)row.State).OnHand : 0,
        _ => throw new NotSupportedException($"The fake store keeps numbers only in the sales and stock tables, not at {key}."),
    };

    private sealed class Session(FakeStore store) : IStoreSession
    {
        public ValueTask ReadAsync(ReadBatch batch, CancellationToken cancellationToken = default) => store.ReadAsync(batch);

        public ValueTask<ProductRange> ReadProductsAsync(ProductId? after, int limit, ReadBatch rows, CancellationToken cancellationToken = default) =>
            store.ReadProductsAsync(after, limit, rows);

        public ValueTask<SalesTop> ReadTopSalesAsync(long firstBucket, long endBucket, int count, ReadBatch rows, CancellationToken cancellationToken = default) =>
            store.ReadTopSalesAsync(firstBucket, endBucket, count);

        public ValueTask<bool> CommitAsync(ChangeSet changes, CancellationToken cancellationToken = default) => store.CommitAsync(changes);

        public ValueTask<int> PurgeIdempotencyAsync(DateTimeOffset createdBefore, CancellationToken cancellationToken = default)
        {
            lock (store._lock)
            {
                var expired = store._rows.Where(r => r.Value.State is IdempotencyRecord record && record.CreatedAt < createdBefore).Select(r => r.Key).ToList();
                expired.ForEach(key => store._rows.Remove(key));
                return new(expired.Count);
            }
        }

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}

/// <summary>Selects the <see cref="FakeStore"/>.</summary>
internal static class FakeStoreBuilderExtensions
{
    /// <summary>Registers a new <see cref="FakeStore"/> unless a store is registered; like a real adapter's <c>Use…Store()</c>.</summary>
    public static ICommerceBuilder UseFakeStore(this ICommerceBuilder builder)
    {
        builder.Services.TryAddSingleton<ICommerceStore>(_ => new FakeStore());
        return builder;
    }
}
