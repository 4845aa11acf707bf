using Commerce.Storage;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;

namespace Commerce.InMemory.Tests;

/// <summary>
/// A compact record holds its key in two words when the key is up to 18 printable ASCII characters or a
/// UUID in canonical form, and as its text otherwise: either way the key comes back exactly as it was given.
/// </summary>
[Properties(Replay = "20261206,1442695040888963407")]
public sealed class PackedKeyTests
{
    private static readonly UserId Alice = new(1);
    private static readonly DateTimeOffset At = new(2026, 12, 4, 10, 30, 15, TimeSpan.Zero);

    private static readonly Gen<string> ShortPrintable =
        from length in Gen.Choose(1, PackedKey.MaxShortLength)
        from chars in Gen.ArrayOf(Gen.Choose(' ', '~').Select(c => (char)c), length)
        select new string(chars);

    private static readonly Gen<string> Uuids =
        from bytes in Gen.ArrayOf(Gen.Choose(0, 255).Select(b => (byte)b), 16)
        from upper in Gen.Elements(false, true)
        let text = new Guid(bytes).ToString("D")
        select upper ? text.ToUpperInvariant() : text;

    private static readonly Gen<string> AnyText =
        from length in Gen.Choose(0, 150)
        from chars in Gen.ArrayOf(Gen.Choose(0, 0xFFFF).Select(c => (char)c), length)
        select new string(chars);

    [Property(MaxTest = 500)]
    public Property A_short_printable_key_is_packed_and_comes_back_exactly() =>
        Prop.ForAll(ShortPrintable.ToArbitrary(), key => Packed(key) && RoundTrips(key));

    [Property(MaxTest = 500)]
    public Property A_canonical_uuid_in_one_case_is_packed_and_comes_back_exactly() =>
        Prop.ForAll(Uuids.ToArbitrary(), key => Packed(key) && RoundTrips(key));

    [Property(MaxTest = 500)]
    public Property Any_key_at_all_comes_back_exactly() =>
        Prop.ForAll(AnyText.ToArbitrary(), RoundTrips);

    [Theory]
    [InlineData(" ")]
    [InlineData("~~~~~~~~~~~~~~~~~~")]
    [InlineData("order-1-123456789")]
    [InlineData("0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b")]
    [InlineData("0193A1B2-C3D4-7E5F-8A9B-0C1D2E3F4A5B")]
    [InlineData("01930000-0000-7000-8000-000000000000")]
    public void Keys_of_either_shape_are_packed(string key)
    {
        Assert.True(Packed(key));
        Assert.True(RoundTrips(key));
    }

    [Theory]
    [InlineData("nineteen-characters")]
    [InlineData("0193a1b2-C3D4-7e5f-8a9b-0c1d2e3f4a5b")] // mixed case
    [InlineData("0193a1b2c-3d4-7e5f-8a9b-0c1d2e3f4a5b")] // a dash out of place
    [InlineData("0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5g")] // not a hex digit
    [InlineData("{193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5}")]
    [InlineData("0x93a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b")] // a form the UUID parser takes, but does not give back
    [InlineData("+193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b")]
    [InlineData("tab\tin")]
    [InlineData("clé")]
    public void Keys_of_neither_shape_are_kept_as_their_text(string key)
    {
        Assert.False(Packed(key));
        Assert.True(RoundTrips(key));
    }

    private static CompactIdempotencyRecord Compact(string key) =>
        CompactIdempotencyRecord.Of(new IdempotencyRecord(Alice, IdempotentOperation.Charge, key, 7, At, null, new Money(5), null))!;

    private static bool Packed(string key) => Compact(key).KeyPacked;

    private static bool RoundTrips(string key) =>
        Compact(key) is var compact && compact.Key == key && compact.ToRecord(Alice).Key == key;
}
