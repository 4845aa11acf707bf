using Commerce.Storage;

namespace Commerce.Benchmarks.Stores;

/// <summary>
/// The naive baseline: one lock taken when a unit of work begins and held until it commits or is
/// disposed, over plain dictionaries of immutable states. Nothing can conflict, and nothing runs in parallel.
/// </summary>
internal sealed class GlobalLockStore(TimeSpan rankingResolution) : ICommerceStore
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly Dictionary<StoreKey, object> _rows = [];
    private readonly Dictionary<long, Dictionary<long, object>> _sales = [];
    private long[] _productIds = [];

    public ValueTask<IUnitOfWork> BeginAsync(CancellationToken cancellationToken = default)
    {
        _gate.Wait(cancellationToken);
        return new(new UnitOfWork(this));
    }

    private sealed class UnitOfWork(GlobalLockStore store) : UnitOfWorkBase(store.RankingResolution)
    {
        private bool _released;

        public override ValueTask<bool> CommitAsync(CancellationToken cancellationToken = default)
        {
            foreach (ref readonly var access in Accesses)
            {
                if (access.Desired is { } desired)
                {
                    store.Apply(access.Key, desired);
                }
            }

            Release();
            return new(true);
        }

        public override ValueTask DisposeAsync()
        {
            Release();
            return ValueTask.CompletedTask;
        }

        protected override object Load(in StoreKey key, out object? row)
        {
            row = null;
            if (key.Table == Table.Sales)
            {
                return store._sales.TryGetValue(key.High, out var bucket) && bucket.TryGetValue(key.Low, out var sold) ? sold : Missing.Value;
            }

            return store._rows.TryGetValue(key, out var state) ? state : Missing.Value;
        }

        protected override long[] ProductIds() => store._productIds;

        protected override void AddSales(long first, long end, Dictionary<long, long> totals)
        {
            foreach (var (bucket, products) in store._sales)
            {
                if (bucket >= first && bucket < end)
                {
                    foreach (var (product, sold) in products)
                    {
                        totals[product] = totals.GetValueOrDefault(product) + ((Sold)sold).Quantity;
                    }
                }
            }
        }

        private void Release()
        {
            if (!_released)
            {
                _released = true;
                store._gate.Release();
            }
        }
    }

    private TimeSpan RankingResolution { get; } = rankingResolution;

    private void Apply(in StoreKey key, object state)
    {
        if (key.Table == Table.Sales)
        {
            if (!_sales.TryGetValue(key.High, out var bucket))
            {
                _sales[key.High] = bucket = [];
            }

            bucket[key.Low] = state;
            return;
        }

        if (key.Table == Table.Product && !_rows.ContainsKey(key))
        {
            var ids = new List<long>(_productIds) { key.Low };
            ids.Sort();
            _productIds = [.. ids];
        }

        _rows[key] = state;
    }
}
