using Commerce.Storage;

namespace Commerce.Conformance;

/// <summary>
/// A store around another that can run a hook just before one commit reaches it: a test forces an
/// interleaving (another use case committing between a unit of work's reads and its commit)
/// deterministically, with no timing. Everything else passes straight through.
/// </summary>
public sealed class BeforeCommitStore(ICommerceStore inner) : ICommerceStore
{
    private Func<Task>? _beforeNextCommit;

    /// <summary>
    /// Runs just before the next commit any session sends, and only then: it is cleared before it runs,
    /// so commits the hook makes itself pass straight through.
    /// </summary>
    public Func<Task>? BeforeNextCommit
    {
        get => Volatile.Read(ref _beforeNextCommit);
        set => Volatile.Write(ref _beforeNextCommit, value);
    }

    private static readonly AsyncLocal<bool> s_marked = new();
    private Func<Task>? _beforeMarkedCommits;

    /// <summary>Marks the calling flow (and what it awaits): <see cref="BeforeMarkedCommits"/> runs before its commits only.</summary>
    public static bool Marked
    {
        get => s_marked.Value;
        set => s_marked.Value = value;
    }

    /// <summary>
    /// Runs before every commit that a <see cref="Marked"/> flow sends (until cleared), but not before the
    /// commits the hook causes itself, which run in flows that are not marked.
    /// </summary>
    public Func<Task>? BeforeMarkedCommits
    {
        get => Volatile.Read(ref _beforeMarkedCommits);
        set => Volatile.Write(ref _beforeMarkedCommits, value);
    }

    public async ValueTask<IStoreSession> OpenSessionAsync(CancellationToken cancellationToken = default) =>
        new Session(this, await inner.OpenSessionAsync(cancellationToken));

    private sealed class Session(BeforeCommitStore store, IStoreSession inner) : DelegatingStoreSession(inner)
    {
        public override async ValueTask<bool> CommitAsync(ChangeSet changes, CancellationToken cancellationToken = default)
        {
            if (Interlocked.Exchange(ref store._beforeNextCommit, null) is { } hook)
            {
                await hook();
            }

            if (Marked && store.BeforeMarkedCommits is { } marked)
            {
                await marked();
            }

            return await Inner.CommitAsync(changes, cancellationToken);
        }
    }
}
