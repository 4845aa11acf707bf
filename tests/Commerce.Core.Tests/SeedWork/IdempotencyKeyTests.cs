using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;

namespace Commerce.Tests.SeedWork;

/// <summary>
/// <see cref="IdempotencyKey.IsValid"/> against its documented rule: 1 to <see cref="IdempotencyKey.MaxLength"/>
/// characters, each printable ASCII (U+0020 to U+007E).
/// </summary>
[Properties(Arbitrary = [typeof(KeyGenerators)], Replay = "20261206,6364136223846793005", MaxTest = 500)]
public sealed class IdempotencyKeyTests
{
    [Property]
    public bool A_key_is_valid_exactly_when_it_has_1_to_128_printable_ASCII_characters(string? value)
    {
        var key = new IdempotencyKey(value!);
        var expected = value is { Length: >= 1 and <= IdempotencyKey.MaxLength } && value.All(c => c >= ' ' && c <= '~');
        return key.IsValid == expected && key.ToString() == (value ?? string.Empty) && key.Value == (value ?? string.Empty);
    }

    [Fact]
    public void A_default_key_reads_as_empty_text_and_stays_apart_from_a_key_made_from_empty_text()
    {
        IdempotencyKey[] defaults = [default, new(null!), new IdempotencyKey("k") with { Value = null! }];
        foreach (var key in defaults)
        {
            // The text is empty, never null, as its annotation says; the key is invalid, as an empty one is.
            Assert.Equal(string.Empty, key.Value);
            Assert.Equal(string.Empty, key.ToString());
            key.Deconstruct(out var value);
            Assert.Equal(string.Empty, value);
            Assert.False(key.IsValid);

            // Equality and the hash code are as before: a default key equals another default key only.
            Assert.Equal(default(IdempotencyKey), key);
            Assert.Equal(default(IdempotencyKey).GetHashCode(), key.GetHashCode());
            Assert.NotEqual(new IdempotencyKey(string.Empty), key);
        }

        Assert.Equal(string.Empty, new IdempotencyKey(string.Empty).Value);
    }
}

/// <summary>Key texts: mostly printable ASCII, sometimes a character just outside it, of lengths around 0 and 128; sometimes null.</summary>
public static class KeyGenerators
{
    private static Gen<char> Character { get; } = Gen.Frequency(
        (20, Gen.Choose(' ', '~').Select(c => (char)c)),
        (1, Gen.Elements('\0', '\t', '\n', '\u001f', '\u007f', '\u0080', 'é', '\u00a0', '\ud800', '\uffff')));

    private static Gen<int> Length { get; } = Gen.Frequency(
        (2, Gen.Choose(0, 3)),
        (2, Gen.Choose(IdempotencyKey.MaxLength - 2, IdempotencyKey.MaxLength + 2)),
        (1, Gen.Choose(4, 200)));

    public static Arbitrary<string?> Keys() => Gen.Frequency(
            (1, Gen.Constant<string?>(null)),
            (30, Length.SelectMany(length => Character.ArrayOf(length), (_, chars) => (string?)new string(chars))))
        .ToArbitrary();
}
