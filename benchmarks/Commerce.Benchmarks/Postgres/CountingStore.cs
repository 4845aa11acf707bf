using Commerce.Storage;

namespace Commerce.Benchmarks.Postgres;

/// <summary>
/// Wraps the registered store to count sessions opened (one per attempt of a use case) and commits
/// refused for a conflict (each one is followed by a retry, or by giving up).
/// </summary>
internal sealed class CountingStore(ICommerceStore inner) : ICommerceStore
{
    private long _attempts;
    private long _conflicts;

    public long Attempts => Interlocked.Read(ref _attempts);

    public long Conflicts => Interlocked.Read(ref _conflicts);

    public ValueTask<IStoreSession> OpenSessionAsync(CancellationToken cancellationToken = default)
    {
        Interlocked.Increment(ref _attempts);
        var opening = inner.OpenSessionAsync(cancellationToken);
        return opening.IsCompletedSuccessfully
            ? new ValueTask<IStoreSession>(new CountingSession(opening.Result, this))
            : WrapAsync(opening);
    }

    private async ValueTask<IStoreSession> WrapAsync(ValueTask<IStoreSession> opening) => new CountingSession(await opening, this);

    private sealed class CountingSession(IStoreSession inner, CountingStore store) : IStoreSession
    {
        public ValueTask ReadAsync(ReadBatch batch, CancellationToken cancellationToken = default) =>
            inner.ReadAsync(batch, cancellationToken);

        public ValueTask<ProductRange> ReadProductsAsync(ProductId? after, int limit, ReadBatch rows, CancellationToken cancellationToken = default) =>
            inner.ReadProductsAsync(after, limit, rows, cancellationToken);

        public ValueTask<SalesTop> ReadTopSalesAsync(long firstBucket, long endBucket, int count, ReadBatch rows, CancellationToken cancellationToken = default) =>
            inner.ReadTopSalesAsync(firstBucket, endBucket, count, rows, cancellationToken);

        public ValueTask<int> PurgeIdempotencyAsync(DateTimeOffset createdBefore, CancellationToken cancellationToken = default) =>
            inner.PurgeIdempotencyAsync(createdBefore, cancellationToken);

        public async ValueTask<bool> CommitAsync(ChangeSet changes, CancellationToken cancellationToken = default)
        {
            var committed = await inner.CommitAsync(changes, cancellationToken);
            if (!committed)
            {
                Interlocked.Increment(ref store._conflicts);
            }

            return committed;
        }

        public ValueTask DisposeAsync() => inner.DisposeAsync();
    }
}
