using Commerce.Tests.Support;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;

namespace Commerce.Tests.Catalog;

[Properties(Replay = "20261206,1442695040888963407", MaxTest = 500)]
public sealed class ProductTests
{
    private const int MaxNameLength = 10;

    public static Arbitrary<string> Names() => NameGenerators.Text(MaxNameLength).ToArbitrary();

    public static Arbitrary<long> Prices() => Gen.Frequency((4, Gen.Choose(0, 100).Select(p => (long)p)), (1, Gen.Elements(-1L, long.MinValue, long.MaxValue))).ToArbitrary();

    /// <summary>
    /// The documented rule: a name has 1 to the limit's characters, is not only white space, and holds no control
    /// character (U+0000 to U+001F, U+007F to U+009F) and no unpaired surrogate, else InvalidProductName; then a
    /// negative price is InvalidAmount; otherwise the product holds what it was given.
    /// </summary>
    [Property(Arbitrary = [typeof(ProductTests)])]
    public bool Create_accepts_exactly_the_documented_names_and_prices(string name, long price)
    {
        var result = Product.Create(new ProductId(7), name, new Money(price), MaxNameLength);

        var nameValid = name.Length is >= 1 and <= MaxNameLength
            && !name.All(char.IsWhiteSpace)
            && !name.Any(c => c <= '\u001f' || c is >= '\u007f' and <= '\u009f')
            && !NameGenerators.HasUnpairedSurrogate(name);
        CommerceErrorCode? expected = !nameValid ? CommerceErrorCode.InvalidProductName : price < 0 ? CommerceErrorCode.InvalidAmount : null;
        return expected is null
            ? result.IsSuccess && result.Value.Id == new ProductId(7) && result.Value.Name == name && result.Value.Price == new Money(price)
            : result.IsFailure && result.Error.Code == expected;
    }
}
