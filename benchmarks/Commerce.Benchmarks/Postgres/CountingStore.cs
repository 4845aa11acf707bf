using Commerce.Storage;

namespace Commerce.Benchmarks.Postgres;

/// <summary>
/// Wraps the registered store to count units of work begun (one per attempt of a use case) and
/// commits refused for a conflict (each one is followed by a retry, or by giving up).
/// </summary>
internal sealed class CountingStore(ICommerceStore inner) : ICommerceStore
{
    private long _attempts;
    private long _conflicts;

    public long Attempts => Interlocked.Read(ref _attempts);

    public long Conflicts => Interlocked.Read(ref _conflicts);

    public ValueTask<IUnitOfWork> BeginAsync(CancellationToken cancellationToken = default)
    {
        Interlocked.Increment(ref _attempts);
        var begun = inner.BeginAsync(cancellationToken);
        return begun.IsCompletedSuccessfully
            ? new ValueTask<IUnitOfWork>(new CountingUnitOfWork(begun.Result, this))
            : WrapAsync(begun);
    }

    private async ValueTask<IUnitOfWork> WrapAsync(ValueTask<IUnitOfWork> begun) => new CountingUnitOfWork(await begun, this);

    private sealed class CountingUnitOfWork(IUnitOfWork inner, CountingStore store) : IUnitOfWork
    {
        public IWalletRepository Wallets => inner.Wallets;

        public IProductRepository Products => inner.Products;

        public IInventoryRepository Inventory => inner.Inventory;

        public ICartRepository Carts => inner.Carts;

        public IOrderRepository Orders => inner.Orders;

        public ISalesRepository Sales => inner.Sales;

        public async ValueTask<bool> CommitAsync(CancellationToken cancellationToken = default)
        {
            var committed = await inner.CommitAsync(cancellationToken);
            if (!committed)
            {
                Interlocked.Increment(ref store._conflicts);
            }

            return committed;
        }

        public ValueTask DisposeAsync() => inner.DisposeAsync();
    }
}
