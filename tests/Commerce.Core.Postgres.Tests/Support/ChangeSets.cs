using System.Runtime.CompilerServices;
using Commerce.Storage;

namespace Commerce.Postgres.Tests.Support;

/// <summary>
/// Builds change sets (and read batches) by hand, to drive a store session with changes the services
/// never stage (an adjustment of stock or of a wallet, an insert or an update the unit of work would
/// refuse first).
/// </summary>
/// <remarks>
/// The core builds change sets only inside its unit of work, and gives this project no access to its
/// internals; these accessors bind to the internal constructors, <c>Add</c>, <c>Request</c> and
/// <c>Results</c> by name and fail with
/// <see cref="MissingMethodException"/> if the core changes them.
/// </remarks>
internal static class ChangeSets
{
    public static ChangeSet Of(params Change[] changes)
    {
        var set = NewChangeSet();
        foreach (var change in changes)
        {
            Add(set, in change);
        }

        return set;
    }

    public static Change Insert(StoreKey key, object state) => NewChange(key, ChangeKind.Insert, false, default, state, 0, 0);

    public static Change Update(StoreKey key, StoredState seen, object state) => NewChange(key, ChangeKind.Update, true, seen, state, 0, 0);

    public static Change Read(StoreKey key, StoredState seen) => NewChange(key, ChangeKind.Read, true, seen, null, 0, 0);

    public static Change Adjust(StoreKey key, long delta, long minimum = 0) => NewChange(key, ChangeKind.Adjust, false, default, null, delta, minimum);

    /// <summary>A read batch asking for <paramref name="keys"/>.</summary>
    public static ReadBatch NewBatch(params StoreKey[] keys)
    {
        var batch = NewReadBatch();
        foreach (var key in keys)
        {
            Request(batch, in key);
        }

        return batch;
    }

    /// <summary>What the store set for the key at <paramref name="index"/> of a batch.</summary>
    public static StoredState ResultOf(ReadBatch batch, int index) => Results(batch)[index];

    [UnsafeAccessor(UnsafeAccessorKind.Constructor)]
    private static extern ChangeSet NewChangeSet();

    [UnsafeAccessor(UnsafeAccessorKind.Constructor)]
    private static extern ReadBatch NewReadBatch();

    [UnsafeAccessor(UnsafeAccessorKind.Method, Name = "Request")]
    private static extern void Request(ReadBatch batch, in StoreKey key);

    [UnsafeAccessor(UnsafeAccessorKind.Method, Name = "get_Results")]
    private static extern ReadOnlySpan<StoredState> Results(ReadBatch batch);

    [UnsafeAccessor(UnsafeAccessorKind.Method, Name = "Add")]
    private static extern int Add(ChangeSet set, in Change change);

    [UnsafeAccessor(UnsafeAccessorKind.Constructor)]
    private static extern Change NewChange(StoreKey key, ChangeKind kind, bool wasRead, StoredState seen, object? state, long delta, long minimum);
}
