using Commerce.Storage;

namespace Commerce.Conformance;

/// <summary>
/// A store session that passes every call to another: a test double around a real store derives from it
/// and overrides only the calls it changes (a hook before a commit, a fault, a count).
/// </summary>
/// <param name="inner">The session every call goes to unless overridden.</param>
public abstract class DelegatingStoreSession(IStoreSession inner) : IStoreSession
{
    /// <summary>The session every call goes to unless overridden.</summary>
    protected IStoreSession Inner { get; } = inner;

    /// <inheritdoc />
    public virtual ValueTask ReadAsync(ReadBatch batch, CancellationToken cancellationToken = default) =>
        Inner.ReadAsync(batch, cancellationToken);

    /// <inheritdoc />
    public virtual ValueTask<ProductRange> ReadProductsAsync(ProductId? after, int limit, ReadBatch rows, CancellationToken cancellationToken = default) =>
        Inner.ReadProductsAsync(after, limit, rows, cancellationToken);

    /// <inheritdoc />
    public virtual ValueTask<SalesTop> ReadTopSalesAsync(long firstBucket, long endBucket, int count, ReadBatch rows, CancellationToken cancellationToken = default) =>
        Inner.ReadTopSalesAsync(firstBucket, endBucket, count, rows, cancellationToken);

    /// <inheritdoc />
    public virtual ValueTask<int> PurgeIdempotencyAsync(DateTimeOffset createdBefore, CancellationToken cancellationToken = default) =>
        Inner.PurgeIdempotencyAsync(createdBefore, cancellationToken);

    /// <inheritdoc />
    public virtual ValueTask<bool> CommitAsync(ChangeSet changes, CancellationToken cancellationToken = default) =>
        Inner.CommitAsync(changes, cancellationToken);

    /// <inheritdoc />
    public virtual ValueTask DisposeAsync()
    {
        GC.SuppressFinalize(this);
        return Inner.DisposeAsync();
    }
}
