using Commerce.Storage;

namespace Commerce.Postgres.Tests.Support;

/// <summary>
/// Builds change sets (and read batches) by hand, to drive a store session with changes the services
/// never stage (an adjustment of stock or of a wallet, an insert or an update the unit of work would
/// refuse first).
/// </summary>
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

    /// <summary>Adds a listed product range to <paramref name="set"/>, which it returns.</summary>
    public static ChangeSet WithRange(ChangeSet set, ProductRange range)
    {
        set.AddRange(range);
        return set;
    }

    /// <summary>A read batch asking for <paramref name="keys"/>.</summary>
    public static ReadBatch NewBatch(params StoreKey[] keys)
    {
        var batch = new ReadBatch();
        foreach (var key in keys)
        {
            batch.Request(key);
        }

        return batch;
    }

    /// <summary>What the store set for the key at <paramref name="index"/> of a batch.</summary>
    public static StoredState ResultOf(ReadBatch batch, int index) => batch.Results[index];

    private static ChangeSet NewChangeSet() => new();

    private static int Add(ChangeSet set, in Change change) => set.Add(change);

    private static Change NewChange(StoreKey key, ChangeKind kind, bool wasRead, StoredState seen, object? state, long delta, long minimum) =>
        new(key, kind, wasRead, seen, state, delta, minimum);
}
