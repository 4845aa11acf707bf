namespace Commerce.InMemory.Tests.LockFree;

/// <summary>An immutable counter: a fresh instance per write, as the store's states are.</summary>
internal sealed class Counter(long value)
{
    public long Value { get; } = value;

    public override string ToString() => $"Counter({Value})";
}
