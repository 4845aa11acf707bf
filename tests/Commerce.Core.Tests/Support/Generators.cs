using Commerce.Storage;
using FsCheck;
using FsCheck.Fluent;

namespace Commerce.Tests.Support;

/// <summary>
/// Generators for the property tests. They lean towards the edges where arithmetic goes wrong:
/// zero, small values of both signs, and values next to the 64-bit and 32-bit limits.
/// </summary>
public static class Generators
{
    /// <summary>Any 64-bit value, uniformly.</summary>
    public static Gen<long> AnyLong { get; } =
        Gen.Choose(int.MinValue, int.MaxValue).SelectMany(_ => Gen.Choose(int.MinValue, int.MaxValue), (high, low) => ((long)high << 32) | (uint)low);

    /// <summary>A 64-bit amount, with most of the weight near zero and near the limits.</summary>
    public static Gen<long> Amount { get; } = Gen.Frequency(
        (4, Gen.Choose(-1_000, 1_000).Select(i => (long)i)),
        (2, Gen.Choose(0, 1_000).Select(i => long.MaxValue - i)),
        (1, Gen.Choose(0, 1_000).Select(i => long.MinValue + i)),
        (2, Gen.Choose(0, int.MaxValue).Select(i => (long)i * 4_000_000_000L)),
        (3, AnyLong));

    /// <summary>A quantity: mostly small (including zero and negatives), sometimes next to the 32-bit limits.</summary>
    public static Gen<int> Quantity { get; } = Gen.Frequency(
        (6, Gen.Choose(-3, 30)),
        (1, Gen.Choose(0, 10).Select(i => int.MaxValue - i)),
        (1, Gen.Choose(0, 10).Select(i => int.MinValue + i)),
        (2, Gen.Choose(int.MinValue, int.MaxValue)));

    /// <summary>A small set of product ids, so that collisions (duplicate lines, existing cart lines) are common.</summary>
    public static Gen<ProductId> ProductIds { get; } = Gen.Choose(0, 5).Select(i => new ProductId(i));

    public static Arbitrary<Money> Money() => Amount.Select(a => new Money(a)).ToArbitrary();

    public static Arbitrary<long> Long() => Amount.ToArbitrary();

    public static Arbitrary<int> Int() => Quantity.ToArbitrary();

    public static Arbitrary<ProductId> ProductId() => ProductIds.ToArbitrary();

    public static Arbitrary<ProductSales> ProductSales() =>
        ProductIds.SelectMany(_ => Gen.Choose(-2, 6), (id, quantity) => new ProductSales(id, quantity)).ToArbitrary();

    public static Arbitrary<CartCommand> CartCommand() =>
        Gen.Choose(0, 2).SelectMany(_ => ProductIds, (kind, product) => (kind, product))
            .SelectMany(_ => Quantity, (x, quantity) => new CartCommand((CartCommandKind)x.kind, x.product, quantity))
            .ToArbitrary();

    /// <summary>Order lines with distinct products, positive quantities and prices whose line totals fit in 64 bits.</summary>
    public static Arbitrary<OrderLine[]> OrderLines() =>
        Gen.Choose(1, 6).SelectMany(
                count => Gen.Choose(1, 1_000).SelectMany(_ => Gen.Frequency((3, Gen.Choose(0, 100_000).Select(i => (long)i)), (1, Amount.Select(a => a & long.MaxValue))), (q, p) => (q, p)).ListOf(count),
                (_, raw) => raw.Select((x, i) => new OrderLine(new ProductId(i), x.q, new Money(x.p / x.q))).ToArray())
            .ToArbitrary();
}

public enum CartCommandKind
{
    Add,
    SetQuantity,
    Remove,
}

/// <summary>One step of a cart model test.</summary>
public sealed record CartCommand(CartCommandKind Kind, ProductId Product, int Quantity);
