namespace Commerce.Storage;

/// <summary>
/// Keys a unit of work asks a store to read in one call, and the states the store found. The store
/// sets a result for every requested key (<see cref="SetResult"/>) and may add rows it read alongside
/// (<see cref="Add"/>: the rows of a listed range, the products of a ranking).
/// </summary>
/// <remarks>Built by the library's unit of work; a store uses it only during the call it was passed to.</remarks>
public sealed class ReadBatch
{
    private StoreKey[] _keys = new StoreKey[8];
    private StoredState[] _results = new StoredState[8];
    private bool[] _set = new bool[8];
    private List<(StoreKey Key, StoredState State)>? _added;

    internal ReadBatch()
    {
    }

    /// <summary>The number of keys requested.</summary>
    public int Count { get; private set; }

    /// <summary>A requested key.</summary>
    /// <param name="index">From 0 to <see cref="Count"/> − 1.</param>
    /// <returns>The key.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is negative or not below <see cref="Count"/>.</exception>
    public StoreKey this[int index]
    {
        get
        {
            ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)index, (uint)Count, nameof(index));
            return _keys[index];
        }
    }

    /// <summary>Sets what the store read at a requested key (a <see cref="StoredState"/> with a null state if absent).</summary>
    /// <param name="index">The key's index, from 0 to <see cref="Count"/> − 1.</param>
    /// <param name="state">What was read.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is negative or not below <see cref="Count"/>.</exception>
    public void SetResult(int index, StoredState state)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)index, (uint)Count, nameof(index));
        _results[index] = state;
        _set[index] = true;
    }

    /// <summary>
    /// Adds a row read alongside the requested keys. The unit of work remembers it as read (so the commit
    /// checks it), unless it already knew the key before this call. Add each key at most once per call, and
    /// no requested key.
    /// </summary>
    /// <param name="key">The key.</param>
    /// <param name="state">What was read.</param>
    public void Add(StoreKey key, StoredState state) => (_added ??= []).Add((key, state));

    internal ReadOnlySpan<StoredState> Results => new(_results, 0, Count);

    internal List<(StoreKey Key, StoredState State)>? Added => _added is { Count: > 0 } ? _added : null;

    internal bool Contains(in StoreKey key)
    {
        for (var i = 0; i < Count; i++)
        {
            if (_keys[i] == key)
            {
                return true;
            }
        }

        return false;
    }

    internal void Request(in StoreKey key)
    {
        if (Count == _keys.Length)
        {
            Array.Resize(ref _keys, Count * 2);
            Array.Resize(ref _results, Count * 2);
            Array.Resize(ref _set, Count * 2);
        }

        _keys[Count++] = key;
    }

    /// <summary>Throws if the store left a requested key without a result.</summary>
    internal void EnsureComplete()
    {
        for (var i = 0; i < Count; i++)
        {
            if (!_set[i])
            {
                throw new InvalidOperationException($"The store returned no result for {_keys[i]}.");
            }
        }
    }

    internal void Clear()
    {
        Array.Clear(_results, 0, Count);
        Array.Clear(_set, 0, Count);
        Count = 0;
        if (_added is { Capacity: > 256 })
        {
            _added = null; // A large listing's rows are not worth keeping.
        }
        else
        {
            _added?.Clear();
        }
    }
}
