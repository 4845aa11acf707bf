using System.Text.Json.Serialization;

namespace Commerce;

/// <summary>Identifies a user (the owner of a wallet and a cart). Any 64-bit value is a valid id.</summary>
/// <param name="Value">The numeric id.</param>
[JsonConverter(typeof(CommerceValueJsonConverter))]
public readonly record struct UserId(long Value)
{
    /// <inheritdoc />
    public override string ToString() => Value.ToString(System.Globalization.CultureInfo.InvariantCulture);
}

/// <summary>Identifies a product in the catalog. The host chooses product ids; any 64-bit value is valid.</summary>
/// <param name="Value">The numeric id.</param>
[JsonConverter(typeof(CommerceValueJsonConverter))]
public readonly record struct ProductId(long Value) : IComparable<ProductId>
{
    /// <inheritdoc />
    public int CompareTo(ProductId other) => Value.CompareTo(other.Value);

    /// <inheritdoc />
    public override string ToString() => Value.ToString(System.Globalization.CultureInfo.InvariantCulture);
}

/// <summary>Identifies a placed order. The library assigns order ids (time-ordered version 7 GUIDs).</summary>
/// <param name="Value">The GUID.</param>
[JsonConverter(typeof(CommerceValueJsonConverter))]
public readonly record struct OrderId(Guid Value)
{
    /// <summary>Creates a new, time-ordered order id for an order placed at <paramref name="placedAt"/>.</summary>
    /// <param name="placedAt">The time the order is placed; it orders the ids.</param>
    /// <returns>A new unique id.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="placedAt"/> is before 1970 or after the year 10889 (the range of a version 7 timestamp).</exception>
    public static OrderId New(DateTimeOffset placedAt) => new(OrderIdRandom.NewVersion7(placedAt));

    /// <inheritdoc />
    public override string ToString() => Value.ToString();
}
