using Commerce.InMemory.LockFree;
using Commerce.Storage;

namespace Commerce.InMemory;

/// <summary>
/// The lock-free in-memory store: one <see cref="Cell"/> per aggregate, committed with
/// <see cref="MultiWordCas"/>. Thread-safe; state lives as long as the store (normally the host).
/// </summary>
internal sealed class InMemoryCommerceStore : ICommerceStore
{
    [ThreadStatic]
    private static InMemoryUnitOfWork? t_spare;

    public InMemoryCommerceStore(TimeSpan rankingResolution)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(rankingResolution, TimeSpan.Zero);
        RankingResolution = rankingResolution;
    }

    public TimeSpan RankingResolution { get; }

    public CellTable Wallets { get; } = new();

    public CellTable Products { get; } = new(writeOnce: true);

    public CellTable Inventory { get; } = new();

    public CellTable Carts { get; } = new();

    public CellTable Orders { get; } = new();

    public SalesCellTable Sales { get; } = new();

    public ProductIndex ProductIds { get; } = new();

    /// <summary>A test seam: called on the committing thread after it installs its descriptor in the i-th cell.</summary>
    internal Action<CommitDescriptor, int>? AfterInstall { get; set; }

    /// <summary>
    /// Opens a unit of work. Units of work are reused: the one a thread disposed last is handed out again,
    /// so that a use case allocates no unit of work. A disposed unit of work must not be used again.
    /// </summary>
    public ValueTask<IUnitOfWork> BeginAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var unitOfWork = t_spare;
        if (unitOfWork is not null && ReferenceEquals(unitOfWork.Store, this))
        {
            t_spare = null;
            unitOfWork.Reopen();
            return new ValueTask<IUnitOfWork>(unitOfWork);
        }

        return new ValueTask<IUnitOfWork>(new InMemoryUnitOfWork(this));
    }

    /// <summary>Keeps a disposed unit of work for this thread's next <see cref="BeginAsync"/>.</summary>
    internal static void Return(InMemoryUnitOfWork unitOfWork)
    {
        if (unitOfWork.Reset())
        {
            t_spare = unitOfWork;
        }
    }
}
