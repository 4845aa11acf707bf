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
    private CellUpdate[] _scratch = new CellUpdate[8];
    private bool _completed;
    private bool _disposed;
    private bool _rankingTorn;
    private bool _replacesExisting;

    /// <summary>The store this unit of work belongs to.</summary>
    public InMemoryCommerceStore Store => store;

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
        var lines = order.Lines;
        for (var i = 0; i < lines.Count; i++)
        {
            var line = lines[i];
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
        var top = RankingCache.Top(store.Sales, SalesWindow.BucketOf(from, resolution), SalesWindow.BucketOf(to, resolution), count, out var consistent);

        // A bucket read while a commit on it was in flight might count part of an order: the commit then
        // reports a conflict, and the service asks again.
        _rankingTorn |= !consistent;
        return new(top.AsReadOnly());
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

        if (_rankingTorn || _replacesExisting)
        {
            return new(false);
        }

        if (writes == 0)
        {
            return new(Validate(accesses));
        }

        if (!PagesUnchanged())
        {
            return new(false);
        }

        // Built in a scratch array the unit of work keeps; the descriptor copies it into its own storage.
        var updates = _scratch.Length >= accesses.Length ? _scratch : (_scratch = new CellUpdate[accesses.Length]);
        var next = 0;
        SalesBucket? sales = null;
        List<SalesBucket>? moreSales = null;
        for (var i = 0; i < accesses.Length; i++)
        {
            ref var access = ref accesses[i];
            if (IsSettled(access))
            {
                // A write-once cell that was only read, and held a state, cannot have changed: no check.
                continue;
            }

            if (access.Desired is not null && ReferenceEquals(access.Table, store.Products) && ReferenceEquals(access.Seen, Absent.Value))
            {
                // List a new product before it can exist, so that a listing never misses a committed one.
                store.ProductIds.Add(access.Key.Low);
            }

            if (access.Desired is not null && ReferenceEquals(access.Table, store.Sales))
            {
                var bucket = store.Sales.GetOrCreateBucket(access.Key.High);
                if (sales is null)
                {
                    sales = bucket;
                }
                else if (!ReferenceEquals(sales, bucket))
                {
                    (moreSales ??= []).Add(bucket);
                }
            }

            var cell = access.Cell ?? (ReferenceEquals(access.Seen, Absent.Value) && access.Desired is not null
                ? access.Table.CreateOrGet(access.Key)
                : access.Table.GetOrCreate(access.Key));
            updates[next++] = new CellUpdate(cell, access.Seen, access.Desired ?? access.Seen);
        }

        var descriptor = Describe(updates.AsSpan(0, next));
        if (sales is null)
        {
            return new(MultiWordCas.Commit(descriptor, store.AfterInstall));
        }

        // Tell cached rankings that these buckets may change, from before the commit can be seen until it is decided.
        var stripe = sales.BeginCommit();
        if (moreSales is not null)
        {
            foreach (var bucket in moreSales)
            {
                bucket.BeginCommit(stripe);
            }
        }

        try
        {
            return new(MultiWordCas.Commit(descriptor, store.AfterInstall));
        }
        finally
        {
            sales.EndCommit(stripe);
            if (moreSales is not null)
            {
                foreach (var bucket in moreSales)
                {
                    bucket.EndCommit(stripe);
                }
            }
        }
    }

    public ValueTask DisposeAsync()
    {
        _completed = true;
        if (!_disposed)
        {
            _disposed = true;
            InMemoryCommerceStore.Return(this);
        }

        return ValueTask.CompletedTask;
    }

    /// <summary>Readies a disposed unit of work for reuse by the store.</summary>
    /// <returns><see langword="false"/> if it grew too large to be worth keeping.</returns>
    internal bool Reset()
    {
        if (_accesses.Capacity > 64)
        {
            return false;
        }

        _accesses.Clear();
        _pages = null;
        _rankingTorn = false;
        _replacesExisting = false;
        return true;
    }

    /// <summary>Opens a unit of work the store reused.</summary>
    internal void Reopen()
    {
        _completed = false;
        _disposed = false;
    }

    /// <summary>The descriptor of a commit; the scratch updates are cleared so that they keep no state alive.</summary>
    private static CommitDescriptor Describe(Span<CellUpdate> updates)
    {
        var descriptor = CommitDescriptor.Create(updates);
        updates.Clear();
        return descriptor;
    }

    private static bool IsSettled(in Access access) =>
        access.Desired is null && access.Table.WriteOnce && !ReferenceEquals(access.Seen, Absent.Value);

    private bool Validate(ReadOnlySpan<Access> accesses)
    {
        // One read is a snapshot by itself.
        if (accesses.Length + (_pages?.Count ?? 0) <= 1)
        {
            return true;
        }

        foreach (ref readonly var access in accesses)
        {
            if (IsSettled(access))
            {
                continue;
            }

            var cell = access.Cell ?? access.Table.Find(access.Key);
            var now = cell is null ? Absent.Value : MultiWordCas.Read(cell);
            if (!ReferenceEquals(now, access.Seen))
            {
                return false;
            }
        }

        return PagesUnchanged();
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
            ref var access = ref CollectionsMarshal.AsSpan(_accesses)[at];
            // The port's Add is an insert: over a state this unit of work saw, the commit must fail.
            _replacesExisting |= table.WriteOnce && !ReferenceEquals(access.Seen, Absent.Value);
            access.Desired = state;
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
