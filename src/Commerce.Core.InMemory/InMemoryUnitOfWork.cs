using System.Runtime.InteropServices;
using Commerce.InMemory.LockFree;
using Commerce.Storage;

namespace Commerce.InMemory;

/// <summary>
/// A unit of work over the in-memory store. It records every cell it reads with the state it saw, and
/// stages writes; <see cref="CommitAsync"/> turns both into one multi-word CAS (cells only read are
/// included with their state as both expected and desired, so the commit fails if any of them changed).
/// A unit of work with no writes instead re-reads what it read: since states are never reused, equal
/// references mean each cell held its state throughout, so all reads held together at one instant.
/// </summary>
internal sealed class InMemoryUnitOfWork(InMemoryCommerceStore store)
    : IUnitOfWork, IWalletRepository, IProductRepository, IInventoryRepository, ICartRepository, IOrderRepository, ISalesRepository
{
    private readonly List<Access> _accesses = new(8);
    private List<PageRead>? _pages;
    private List<(long First, long End)>? _salesWindows;
    private Dictionary<Cell, object>? _salesSeen;
    private bool _completed;

    public IWalletRepository Wallets => this;

    public IProductRepository Products => this;

    public IInventoryRepository Inventory => this;

    public ICartRepository Carts => this;

    public IOrderRepository Orders => this;

    public ISalesRepository Sales => this;

    // ---- repositories -------------------------------------------------------------------------

    ValueTask<Wallet?> IWalletRepository.FindAsync(UserId userId, CancellationToken cancellationToken) =>
        new(Read(store.Wallets, CellKey.Of(userId)) as Wallet);

    void IWalletRepository.Save(Wallet wallet)
    {
        ArgumentNullException.ThrowIfNull(wallet);
        Stage(store.Wallets, CellKey.Of(wallet.UserId), wallet);
    }

    ValueTask<Product?> IProductRepository.FindAsync(ProductId productId, CancellationToken cancellationToken) =>
        new(Read(store.Products, CellKey.Of(productId)) as Product);

    ValueTask<IReadOnlyList<Product>> IProductRepository.ListAsync(ProductId? after, int limit, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        EnsureOpen();
        var ids = store.ProductIds.Snapshot;
        var page = new List<Product>(Math.Min(limit, 64));
        var scannedUpTo = long.MaxValue;
        for (var i = ProductIndex.FirstAfter(ids, after?.Value); i < ids.Length; i++)
        {
            if (page.Count == limit)
            {
                scannedUpTo = ids[i - 1];
                break;
            }

            if (Read(store.Products, new CellKey(0, ids[i])) is Product product)
            {
                page.Add(product);
            }
        }

        (_pages ??= []).Add(new PageRead(ids, after?.Value, scannedUpTo));
        return new(page.AsReadOnly());
    }

    void IProductRepository.Add(Product product)
    {
        ArgumentNullException.ThrowIfNull(product);
        Stage(store.Products, CellKey.Of(product.Id), product);
    }

    ValueTask<StockItem?> IInventoryRepository.FindAsync(ProductId productId, CancellationToken cancellationToken) =>
        new(Read(store.Inventory, CellKey.Of(productId)) as StockItem);

    void IInventoryRepository.Save(StockItem item)
    {
        ArgumentNullException.ThrowIfNull(item);
        Stage(store.Inventory, CellKey.Of(item.ProductId), item);
    }

    ValueTask<Cart?> ICartRepository.FindAsync(UserId userId, CancellationToken cancellationToken) =>
        new(Read(store.Carts, CellKey.Of(userId)) as Cart);

    void ICartRepository.Save(Cart cart)
    {
        ArgumentNullException.ThrowIfNull(cart);
        Stage(store.Carts, CellKey.Of(cart.UserId), cart);
    }

    ValueTask<Order?> IOrderRepository.FindAsync(OrderId orderId, CancellationToken cancellationToken) =>
        new(Read(store.Orders, CellKey.Of(orderId)) as Order);

    void IOrderRepository.Add(Order order)
    {
        ArgumentNullException.ThrowIfNull(order);
        Stage(store.Orders, CellKey.Of(order.Id), order);
    }

    ValueTask ISalesRepository.RecordAsync(Order order, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(order);
        var bucket = SalesWindow.BucketOf(order.PlacedAt, store.RankingResolution);
        foreach (var line in order.Lines)
        {
            var key = new CellKey(bucket, line.ProductId.Value);
            var sold = Read(store.Sales, key) is SalesCount count ? count.Quantity : 0;
            Stage(store.Sales, key, new SalesCount(checked(sold + line.Quantity)));
        }

        return ValueTask.CompletedTask;
    }

    ValueTask<IReadOnlyList<ProductSales>> ISalesRepository.GetTopAsync(DateTimeOffset from, DateTimeOffset to, int count, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        EnsureOpen();
        var resolution = store.RankingResolution;
        var first = SalesWindow.BucketOf(from, resolution);
        var end = SalesWindow.BucketOf(to, resolution);
        var totals = new Dictionary<long, long>();

        // Each count is read atomically, but a multi-product order may commit between two of the reads; so
        // the cells and the states seen are remembered, and the commit re-reads the window (a double
        // collect): if nothing changed, every count held at one instant and the ranking is a snapshot.
        var seen = _salesSeen ??= [];
        (_salesWindows ??= []).Add((first, end));
        ForEachSalesCell(first, end, (productId, cell) =>
        {
            var state = MultiWordCas.Read(cell);
            seen[cell] = state;
            if (state is SalesCount sold)
            {
                ref var total = ref CollectionsMarshal.GetValueRefOrAddDefault(totals, productId, out _);
                total += sold.Quantity;
            }

            return true;
        });

        var top = SalesWindow.Top(totals.Select(static t => new ProductSales(new ProductId(t.Key), t.Value)), count);
        return new(top.AsReadOnly());
    }

    /// <summary>Visits every sales cell of the buckets in [first, end) until <paramref name="visit"/> returns false; returns false if it did.</summary>
    private bool ForEachSalesCell(long first, long end, Func<long, Cell, bool> visit)
    {
        if (end - first <= store.Sales.BucketCount)
        {
            for (var bucket = first; bucket < end; bucket++)
            {
                if (!VisitBucket(store.Sales.Bucket(bucket), visit))
                {
                    return false;
                }
            }

            return true;
        }

        foreach (var bucket in store.Sales.Buckets)
        {
            if (bucket >= first && bucket < end && !VisitBucket(store.Sales.Bucket(bucket), visit))
            {
                return false;
            }
        }

        return true;
    }

    private static bool VisitBucket(System.Collections.Concurrent.ConcurrentDictionary<long, Cell>? bucket, Func<long, Cell, bool> visit)
    {
        if (bucket is not null)
        {
            foreach (var (productId, cell) in bucket)
            {
                if (!visit(productId, cell))
                {
                    return false;
                }
            }
        }

        return true;
    }

    /// <summary>Whether every sales cell of every ranked window still holds the state it was read in (absent if it was not seen).</summary>
    private bool SalesUnchanged()
    {
        if (_salesWindows is null)
        {
            return true;
        }

        var seen = _salesSeen!;
        foreach (var (first, end) in _salesWindows)
        {
            if (!ForEachSalesCell(first, end, (_, cell) => ReferenceEquals(MultiWordCas.Read(cell), seen.GetValueOrDefault(cell) ?? Absent.Value)))
            {
                return false;
            }
        }

        return true;
    }

    // ---- unit of work -------------------------------------------------------------------------

    public ValueTask<bool> CommitAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        EnsureOpen();
        _completed = true;

        var accesses = CollectionsMarshal.AsSpan(_accesses);
        var writes = 0;
        foreach (ref readonly var access in accesses)
        {
            if (access.Desired is not null)
            {
                writes++;
            }
        }

        if (writes == 0)
        {
            return new(Validate(accesses));
        }

        if (!PagesUnchanged() || !SalesUnchanged())
        {
            return new(false);
        }

        var updates = new CellUpdate[accesses.Length];
        for (var i = 0; i < accesses.Length; i++)
        {
            ref var access = ref accesses[i];
            if (access.Desired is not null && ReferenceEquals(access.Table, store.Products) && ReferenceEquals(access.Seen, Absent.Value))
            {
                // List a new product before it can exist, so that a listing never misses a committed one.
                store.ProductIds.Add(access.Key.Low);
            }

            var cell = access.Cell ?? access.Table.GetOrCreate(access.Key);
            updates[i] = new CellUpdate(cell, access.Seen, access.Desired ?? access.Seen);
        }

        return new(MultiWordCas.Commit(new CommitDescriptor(updates), store.AfterInstall));
    }

    public ValueTask DisposeAsync()
    {
        _completed = true;
        return ValueTask.CompletedTask;
    }

    private bool Validate(ReadOnlySpan<Access> accesses)
    {
        // One read is a snapshot by itself (a ranked window is many reads).
        if (_salesWindows is null && accesses.Length + (_pages?.Count ?? 0) <= 1)
        {
            return true;
        }

        foreach (ref readonly var access in accesses)
        {
            var cell = access.Cell ?? access.Table.Find(access.Key);
            var now = cell is null ? Absent.Value : MultiWordCas.Read(cell);
            if (!ReferenceEquals(now, access.Seen))
            {
                return false;
            }
        }

        return PagesUnchanged() && SalesUnchanged();
    }

    private bool PagesUnchanged()
    {
        if (_pages is null)
        {
            return true;
        }

        var ids = store.ProductIds.Snapshot;
        foreach (var page in _pages)
        {
            if (!ReferenceEquals(ids, page.Ids)
                && ProductIndex.CountInRange(ids, page.After, page.ScannedUpTo) != ProductIndex.CountInRange(page.Ids, page.After, page.ScannedUpTo))
            {
                return false;
            }
        }

        return true;
    }

    private object Read(CellTable table, CellKey key)
    {
        EnsureOpen();
        var at = IndexOf(table, key);
        if (at >= 0)
        {
            var access = _accesses[at];
            return access.Desired ?? access.Seen;
        }

        var cell = table.Find(key);
        var seen = cell is null ? Absent.Value : MultiWordCas.Read(cell);
        _accesses.Add(new Access(table, key, cell, seen));
        return seen;
    }

    private void Stage(CellTable table, CellKey key, object state)
    {
        EnsureOpen();
        var at = IndexOf(table, key);
        if (at >= 0)
        {
            CollectionsMarshal.AsSpan(_accesses)[at].Desired = state;
        }
        else
        {
            // Not read first: an insert, which requires the key to be absent at commit.
            _accesses.Add(new Access(table, key, null, Absent.Value) { Desired = state });
        }
    }

    private int IndexOf(CellTable table, CellKey key)
    {
        var accesses = CollectionsMarshal.AsSpan(_accesses);
        for (var i = 0; i < accesses.Length; i++)
        {
            if (ReferenceEquals(accesses[i].Table, table) && accesses[i].Key == key)
            {
                return i;
            }
        }

        return -1;
    }

    private void EnsureOpen() => ObjectDisposedException.ThrowIf(_completed, this);

    /// <summary>One cell this unit of work touched: what it saw, and what it will write (null if only read).</summary>
    private struct Access(CellTable table, CellKey key, Cell? cell, object seen)
    {
        public readonly CellTable Table = table;
        public readonly CellKey Key = key;
        public readonly Cell? Cell = cell;
        public readonly object Seen = seen;
        public object? Desired;
    }

    /// <summary>A listed page: the index snapshot it used and the id range it covered.</summary>
    private sealed record PageRead(long[] Ids, long? After, long ScannedUpTo);
}
