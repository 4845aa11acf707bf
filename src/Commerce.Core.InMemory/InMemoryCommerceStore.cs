using Commerce.InMemory.LockFree;
using Commerce.Storage;

namespace Commerce.InMemory;

/// <summary>
/// The lock-free in-memory store: one <see cref="Cell"/> per aggregate, committed with
/// <see cref="MultiWordCas"/>. Thread-safe; state lives as long as the store (normally the host).
/// </summary>
internal sealed class InMemoryCommerceStore : ICommerceStore
{
    public InMemoryCommerceStore(TimeSpan rankingResolution)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(rankingResolution, TimeSpan.Zero);
        RankingResolution = rankingResolution;
    }

    public TimeSpan RankingResolution { get; }

    public CellTable Wallets { get; } = new();

    public CellTable Products { get; } = new();

    public CellTable Inventory { get; } = new();

    public CellTable Carts { get; } = new();

    public CellTable Orders { get; } = new();

    public SalesCellTable Sales { get; } = new();

    public ProductIndex ProductIds { get; } = new();

    /// <summary>A test seam: called on the committing thread after it installs its descriptor in the i-th cell.</summary>
    internal Action<CommitDescriptor, int>? AfterInstall { get; set; }

    public ValueTask<IUnitOfWork> BeginAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return new ValueTask<IUnitOfWork>(new InMemoryUnitOfWork(this));
    }
}
