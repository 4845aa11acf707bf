using System.Collections.Concurrent;
using Commerce.Storage;

namespace Commerce.Benchmarks.Stores;

/// <summary>
/// The row-lock baseline: reads take no lock; at commit the unit of work locks the row of every key it
/// read or wrote, in one global order (so commits never deadlock), checks that each still holds the
/// state it read (by reference: states are immutable and never reused), writes, and unlocks.
/// </summary>
internal sealed class PerKeyLockStore(TimeSpan rankingResolution) : ICommerceStore
{
    private static long s_lastRow;
    private readonly ConcurrentDictionary<StoreKey, Row> _rows = new();
    private readonly ConcurrentDictionary<long, ConcurrentDictionary<long, Row>> _sales = new();
    private readonly Lock _productIdsGate = new();
    private long[] _productIds = [];

    public ValueTask<IUnitOfWork> BeginAsync(CancellationToken cancellationToken = default) =>
        new(new UnitOfWork(this));

    private Row? Find(in StoreKey key) => key.Table == Table.Sales
        ? _sales.TryGetValue(key.High, out var bucket) && bucket.TryGetValue(key.Low, out var sold) ? sold : null
        : _rows.TryGetValue(key, out var row) ? row : null;

    private Row GetOrCreate(in StoreKey key) => key.Table == Table.Sales
        ? _sales.GetOrAdd(key.High, static _ => new()).GetOrAdd(key.Low, static _ => new Row())
        : _rows.GetOrAdd(key, static _ => new Row());

    private void AddProductId(long id)
    {
        lock (_productIdsGate)
        {
            var ids = new List<long>(_productIds) { id };
            ids.Sort();
            Volatile.Write(ref _productIds, [.. ids]);
        }
    }

    /// <summary>One aggregate's row: its current state and the lock a commit holds on it.</summary>
    private sealed class Row
    {
        public readonly long Order = Interlocked.Increment(ref s_lastRow);
        public readonly Lock Gate = new();
        public volatile object State = Missing.Value;
    }

    private sealed class UnitOfWork(PerKeyLockStore store) : UnitOfWorkBase(store._rankingResolution)
    {
        public override ValueTask<bool> CommitAsync(CancellationToken cancellationToken = default)
        {
            var accesses = Accesses;
            var writes = false;
            foreach (ref readonly var access in accesses)
            {
                writes |= access.Desired is not null;
            }

            // One read is a snapshot by itself.
            if (!writes && accesses.Length + (Pages?.Count ?? 0) <= 1)
            {
                return new(true);
            }

            var rows = new (Row Row, int Access)[accesses.Length];
            for (var i = 0; i < accesses.Length; i++)
            {
                rows[i] = ((accesses[i].Row as Row) ?? store.GetOrCreate(accesses[i].Key), i);
            }

            Array.Sort(rows, static (a, b) => a.Row.Order.CompareTo(b.Row.Order));
            var locked = 0;
            try
            {
                for (; locked < rows.Length; locked++)
                {
                    rows[locked].Row.Gate.Enter();
                }

                foreach (var (row, at) in rows)
                {
                    if (!ReferenceEquals(row.State, accesses[at].Seen))
                    {
                        return new(false);
                    }
                }

                if (Pages is { } pages && pages.Exists(ids => !ReferenceEquals(ids, Volatile.Read(ref store._productIds))))
                {
                    return new(false);
                }

                foreach (var (row, at) in rows)
                {
                    if (accesses[at].Desired is { } desired)
                    {
                        if (accesses[at].Key.Table == Table.Product && ReferenceEquals(row.State, Missing.Value))
                        {
                            store.AddProductId(accesses[at].Key.Low);
                        }

                        row.State = desired;
                    }
                }

                return new(true);
            }
            finally
            {
                for (var i = locked - 1; i >= 0; i--)
                {
                    rows[i].Row.Gate.Exit();
                }
            }
        }

        public override ValueTask DisposeAsync() => ValueTask.CompletedTask;

        protected override object Load(in StoreKey key, out object? row)
        {
            var found = store.Find(key);
            row = found;
            return found?.State ?? Missing.Value;
        }

        protected override long[] ProductIds() => Volatile.Read(ref store._productIds);

        protected override void AddSales(long first, long end, Dictionary<long, long> totals)
        {
            foreach (var (bucket, products) in store._sales)
            {
                if (bucket >= first && bucket < end)
                {
                    foreach (var (product, row) in products)
                    {
                        if (row.State is Sold sold)
                        {
                            totals[product] = totals.GetValueOrDefault(product) + sold.Quantity;
                        }
                    }
                }
            }
        }
    }

    private readonly TimeSpan _rankingResolution = rankingResolution;
}
