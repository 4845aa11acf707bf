using System.Runtime.InteropServices;
using Commerce.Storage;

namespace Commerce.Benchmarks.Stores;

/// <summary>
/// What the baseline stores share: a unit of work that remembers what it read and stages what it
/// writes, exactly as the port requires. Subclasses say how committed state is read and how a commit
/// is made atomic.
/// </summary>
internal abstract class UnitOfWorkBase
    : IUnitOfWork, IWalletRepository, IProductRepository, IInventoryRepository, ICartRepository, IOrderRepository, ISalesRepository
{
    private readonly List<Access> _accesses = new(8);

    protected UnitOfWorkBase(TimeSpan rankingResolution) => RankingResolution = rankingResolution;

    public IWalletRepository Wallets => this;

    public IProductRepository Products => this;

    public IInventoryRepository Inventory => this;

    public ICartRepository Carts => this;

    public IOrderRepository Orders => this;

    public ISalesRepository Sales => this;

    protected TimeSpan RankingResolution { get; }

    protected Span<Access> Accesses => CollectionsMarshal.AsSpan(_accesses);

    /// <summary>The product-id snapshots that listings used.</summary>
    protected List<long[]>? Pages { get; private set; }

    ValueTask<Wallet?> IWalletRepository.FindAsync(UserId userId, CancellationToken cancellationToken) =>
        new(Read(StoreKey.Of(Table.Wallet, userId.Value)) as Wallet);

    void IWalletRepository.Save(Wallet wallet) => Stage(StoreKey.Of(Table.Wallet, wallet.UserId.Value), wallet);

    ValueTask<Product?> IProductRepository.FindAsync(ProductId productId, CancellationToken cancellationToken) =>
        new(Read(StoreKey.Of(Table.Product, productId.Value)) as Product);

    ValueTask<IReadOnlyList<Product>> IProductRepository.ListAsync(ProductId? after, int limit, CancellationToken cancellationToken)
    {
        var ids = ProductIds();
        (Pages ??= []).Add(ids);
        var start = 0;
        if (after is { } a)
        {
            start = Array.BinarySearch(ids, a.Value);
            start = start >= 0 ? start + 1 : ~start;
        }

        var page = new List<Product>(Math.Min(limit, 64));
        for (var i = start; i < ids.Length && page.Count < limit; i++)
        {
            if (Read(StoreKey.Of(Table.Product, ids[i])) is Product product)
            {
                page.Add(product);
            }
        }

        return new(page);
    }

    void IProductRepository.Add(Product product) => Stage(StoreKey.Of(Table.Product, product.Id.Value), product);

    ValueTask<StockItem?> IInventoryRepository.FindAsync(ProductId productId, CancellationToken cancellationToken) =>
        new(Read(StoreKey.Of(Table.Stock, productId.Value)) as StockItem);

    void IInventoryRepository.Save(StockItem item) => Stage(StoreKey.Of(Table.Stock, item.ProductId.Value), item);

    ValueTask<Cart?> ICartRepository.FindAsync(UserId userId, CancellationToken cancellationToken) =>
        new(Read(StoreKey.Of(Table.Cart, userId.Value)) as Cart);

    void ICartRepository.Save(Cart cart) => Stage(StoreKey.Of(Table.Cart, cart.UserId.Value), cart);

    ValueTask<Order?> IOrderRepository.FindAsync(OrderId orderId, CancellationToken cancellationToken) =>
        new(Read(StoreKey.Of(orderId)) as Order);

    void IOrderRepository.Add(Order order) => Stage(StoreKey.Of(order.Id), order);

    ValueTask ISalesRepository.RecordAsync(Order order, CancellationToken cancellationToken)
    {
        var bucket = BucketOf(order.PlacedAt);
        for (var i = 0; i < order.Lines.Count; i++)
        {
            var line = order.Lines[i];
            var key = new StoreKey(Table.Sales, bucket, line.ProductId.Value);
            var sold = Read(key) is Sold count ? count.Quantity : 0;
            Stage(key, new Sold(sold + line.Quantity));
        }

        return ValueTask.CompletedTask;
    }

    ValueTask<IReadOnlyList<ProductSales>> ISalesRepository.GetTopAsync(DateTimeOffset from, DateTimeOffset to, int count, CancellationToken cancellationToken)
    {
        var totals = new Dictionary<long, long>();
        AddSales(BucketOf(from), BucketOf(to), totals);
        var list = new List<ProductSales>(totals.Count);
        foreach (var (product, quantity) in totals)
        {
            if (quantity > 0)
            {
                list.Add(new ProductSales(new ProductId(product), quantity));
            }
        }

        list.Sort(static (a, b) => a.Quantity != b.Quantity ? b.Quantity.CompareTo(a.Quantity) : a.ProductId.CompareTo(b.ProductId));
        if (list.Count > count)
        {
            list.RemoveRange(count, list.Count - count);
        }

        return new(list);
    }

    public abstract ValueTask<bool> CommitAsync(CancellationToken cancellationToken = default);

    public abstract ValueTask DisposeAsync();

    /// <summary>The committed state of a key, or <see cref="Missing.Value"/>; <paramref name="row"/> is the store's handle on it, if any.</summary>
    protected abstract object Load(in StoreKey key, out object? row);

    /// <summary>The sorted ids of every product.</summary>
    protected abstract long[] ProductIds();

    /// <summary>Adds the committed sales of buckets [first, end) to <paramref name="totals"/>.</summary>
    protected abstract void AddSales(long first, long end, Dictionary<long, long> totals);

    private long BucketOf(DateTimeOffset at)
    {
        var ticks = at.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks;
        var q = Math.DivRem(ticks, RankingResolution.Ticks, out var rem);
        return rem < 0 ? q - 1 : q;
    }

    private object Read(in StoreKey key)
    {
        var accesses = Accesses;
        for (var i = 0; i < accesses.Length; i++)
        {
            if (accesses[i].Key == key)
            {
                return accesses[i].Desired ?? accesses[i].Seen;
            }
        }

        var seen = Load(key, out var row);
        _accesses.Add(new Access { Key = key, Row = row, Seen = seen });
        return seen;
    }

    private void Stage(in StoreKey key, object state)
    {
        var accesses = Accesses;
        for (var i = 0; i < accesses.Length; i++)
        {
            if (accesses[i].Key == key)
            {
                accesses[i].Desired = state;
                return;
            }
        }

        _accesses.Add(new Access { Key = key, Seen = Missing.Value, Desired = state });
    }

    /// <summary>One key touched: the store's row (if it had one), the state seen, and the state to write (null if only read).</summary>
    protected struct Access
    {
        public StoreKey Key;
        public object? Row;
        public object Seen;
        public object? Desired;
    }
}
