using FsCheck;
using FsCheck.Fluent;

namespace Commerce.InMemory.Tests.Domain;

/// <summary>Generators that reach the edges: zero, negatives, limits, and values near 64- and 32-bit overflow.</summary>
internal static class DomainGenerators
{
    /// <summary>Any amount, biased towards the interesting ones.</summary>
    public static Gen<long> Amount(long limit) => Gen.Frequency(
        (4, Gen.Choose(1, 1000).Select(x => (long)x)),
        (2, Gen.Choose(-5, 5).Select(x => (long)x)),
        (2, Gen.Elements(limit - 1, limit, limit + 1, limit / 2, limit / 3)),
        (1, Gen.Elements(long.MaxValue, long.MinValue, long.MaxValue - 1, long.MaxValue / 2, -1L)),
        (1, Gen.Choose(0, int.MaxValue).Select(x => (long)x * 4_294_967_296L)));

    /// <summary>A quantity as the API takes it: any int, biased to small positive ones and to the edges.</summary>
    public static Gen<int> Quantity() => Gen.Frequency(
        (6, Gen.Choose(1, 20)),
        (2, Gen.Choose(-3, 0)),
        (1, Gen.Elements(int.MaxValue, int.MaxValue - 1, int.MinValue, int.MaxValue / 2, 1 << 30)));

    public static Gen<ProductId> Product(int distinct) => Gen.Choose(1, distinct).Select(i => new ProductId(i));
}
