using Commerce.InMemory.LockFree;
using Commerce.Storage;

namespace Commerce.InMemory;

/// <summary>
/// The handle of a read that made an <see cref="IdempotencyRecord"/> back from the
/// <see cref="CompactIdempotencyRecord"/> a key's cell holds: the cell, and that state (what a commit
/// expects there, rather than the record made for the read).
/// </summary>
internal sealed class CompactRead(Cell cell, CompactIdempotencyRecord state)
{
    /// <summary>The key's cell.</summary>
    public Cell Cell { get; } = cell;

    /// <summary>The state the cell held.</summary>
    public CompactIdempotencyRecord State { get; } = state;
}
