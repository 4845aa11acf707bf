namespace Commerce.Storage;

/// <summary>
/// What a store read at a key: the state (or <see langword="null"/> if the key was absent), with the
/// store's own means of checking at commit that it is still current.
/// </summary>
/// <remarks>
/// The unit of work keeps both opaque values and hands them back in the <see cref="ChangeSet"/>: a
/// store that versions rows puts the version in <see cref="Version"/>; a store that compares states
/// by reference needs nothing but <see cref="State"/>; <see cref="Handle"/> spares a second lookup
/// (for example the slot the state was read from).
/// </remarks>
/// <param name="State">The aggregate (<see cref="Wallet"/>, <see cref="Product"/>, <see cref="StockItem"/>, <see cref="Cart"/> or <see cref="Order"/>), or <see langword="null"/> if absent.</param>
/// <param name="Version">The store's version of the state, if it keeps one.</param>
/// <param name="Handle">The store's handle on the state's location, if it wants one back at commit.</param>
public readonly record struct StoredState(object? State, long Version = 0, object? Handle = null)
{
    /// <summary>An absent key with no handle.</summary>
    public static StoredState Absent => default;
}
