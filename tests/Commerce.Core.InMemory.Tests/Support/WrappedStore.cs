using Commerce.Storage;

namespace Commerce.InMemory.Tests.Support;

/// <summary>How a <see cref="WrappedStore"/> departs from the store it wraps.</summary>
internal enum Fault
{
    /// <summary>None: every call goes to the real unit of work (only the hook is added).</summary>
    None,

    /// <summary>
    /// Wallet reads bypass the unit of work, so the commit never checks them, and wallet writes are applied
    /// blindly after the rest commits: a lost update waiting for a concurrent charge.
    /// </summary>
    UncheckedWalletRead,

    /// <summary>Orders are placed but their sales are never recorded: the ranking misses committed orders.</summary>
    SalesNotRecorded,
}

/// <summary>
/// A store around the in-memory one, for tests: it can call a hook right after each wallet read (to force
/// interleavings deterministically) and can inject one <see cref="Fault"/>, to show the checks catch it.
/// </summary>
internal sealed class WrappedStore(InMemoryCommerceStore inner, Fault fault, Action? afterWalletRead = null) : ICommerceStore
{
    private readonly InMemoryCommerceStore _inner = inner;
    private readonly Fault _fault = fault;
    private readonly Action? _afterWalletRead = afterWalletRead;

    public async ValueTask<IUnitOfWork> BeginAsync(CancellationToken cancellationToken = default) =>
        new UnitOfWork(this, await _inner.BeginAsync(cancellationToken));

    private sealed class UnitOfWork(WrappedStore store, IUnitOfWork inner) : IUnitOfWork, IWalletRepository, ISalesRepository
    {
        private readonly Dictionary<UserId, Wallet> _blindWrites = [];

        public IWalletRepository Wallets => this;

        public IProductRepository Products => inner.Products;

        public IInventoryRepository Inventory => inner.Inventory;

        public ICartRepository Carts => inner.Carts;

        public IOrderRepository Orders => inner.Orders;

        public ISalesRepository Sales => store._fault == Fault.SalesNotRecorded ? this : inner.Sales;

        public async ValueTask<Wallet?> FindAsync(UserId userId, CancellationToken cancellationToken = default)
        {
            Wallet? wallet;
            if (store._fault == Fault.UncheckedWalletRead)
            {
                await using var side = await store._inner.BeginAsync(cancellationToken);
                wallet = await side.Wallets.FindAsync(userId, cancellationToken);
            }
            else
            {
                wallet = await inner.Wallets.FindAsync(userId, cancellationToken);
            }

            store._afterWalletRead?.Invoke();
            return wallet;
        }

        public void Save(Wallet wallet)
        {
            if (store._fault == Fault.UncheckedWalletRead)
            {
                _blindWrites[wallet.UserId] = wallet;
            }
            else
            {
                inner.Wallets.Save(wallet);
            }
        }

        public ValueTask RecordAsync(Order order, CancellationToken cancellationToken = default) => ValueTask.CompletedTask;

        public ValueTask<IReadOnlyList<ProductSales>> GetTopAsync(DateTimeOffset from, DateTimeOffset to, int count, CancellationToken cancellationToken = default) =>
            inner.Sales.GetTopAsync(from, to, count, cancellationToken);

        public async ValueTask<bool> CommitAsync(CancellationToken cancellationToken = default)
        {
            if (!await inner.CommitAsync(cancellationToken))
            {
                return false;
            }

            foreach (var wallet in _blindWrites.Values)
            {
                while (true)
                {
                    await using var side = await store._inner.BeginAsync(cancellationToken);
                    _ = await side.Wallets.FindAsync(wallet.UserId, cancellationToken);
                    side.Wallets.Save(wallet);
                    if (await side.CommitAsync(cancellationToken))
                    {
                        break;
                    }
                }
            }

            return true;
        }

        public ValueTask DisposeAsync() => inner.DisposeAsync();
    }
}
