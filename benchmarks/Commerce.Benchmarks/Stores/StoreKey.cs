namespace Commerce.Benchmarks.Stores;

/// <summary>The aggregate types a baseline store keeps.</summary>
internal enum Table
{
    Wallet,
    Product,
    Stock,
    Cart,
    Order,
    Sales,
}

/// <summary>A key of any aggregate in a baseline store (sales: bucket in <see cref="High"/>, product in <see cref="Low"/>).</summary>
internal readonly record struct StoreKey(Table Table, long High, long Low)
{
    public static StoreKey Of(Table table, long id) => new(table, 0, id);

    public static StoreKey Of(OrderId id)
    {
        Span<byte> bytes = stackalloc byte[16];
        id.Value.TryWriteBytes(bytes);
        return new(Table.Order, BitConverter.ToInt64(bytes), BitConverter.ToInt64(bytes[8..]));
    }
}

/// <summary>The state of a key with no aggregate.</summary>
internal static class Missing
{
    public static readonly object Value = new();
}

/// <summary>An immutable sales count.</summary>
internal sealed class Sold(long quantity)
{
    public long Quantity { get; } = quantity;
}
