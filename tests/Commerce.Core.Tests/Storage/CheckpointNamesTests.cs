using Commerce.Storage;
using Commerce.Tests.Support;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;

namespace Commerce.Tests.Storage;

[Properties(Replay = "20261206,1442695040888963407", MaxTest = 500)]
public sealed class CheckpointNamesTests
{
    public static Arbitrary<string> Names() => NameGenerators.Text(CheckpointNames.MaxLength).ToArbitrary();

    /// <summary>The documented rule: at most MaxLength characters, no U+0000 and no unpaired surrogate (which UTF-8 cannot encode).</summary>
    [Property(Arbitrary = [typeof(CheckpointNamesTests)])]
    public bool A_name_is_keepable_exactly_when_it_is_short_enough_and_holds_neither_U0000_nor_an_unpaired_surrogate(string name)
    {
        var expected = name.Length <= CheckpointNames.MaxLength && !name.Contains('\0', StringComparison.Ordinal) && !NameGenerators.HasUnpairedSurrogate(name);
        var thrown = Record.Exception(() => CheckpointNames.ThrowIfNotKeepable(name, "consumer"));
        return CheckpointNames.IsKeepable(name) == expected && (thrown is null) == expected && (thrown is null or ArgumentException { ParamName: "consumer" });
    }

    [Fact]
    public void Names_without_U0000_or_an_unpaired_surrogate_are_keepable()
    {
        foreach (var name in new[] { "", "mailer", "Tea \u2615", "clef \U0001D11E", "\uFFFF\uFEFF", "a\U0001F600b" })
        {
            Assert.True(CheckpointNames.IsKeepable(name), name);
            CheckpointNames.ThrowIfNotKeepable(name);
        }
    }

    [Fact]
    public void Names_with_U0000_or_an_unpaired_surrogate_are_refused_naming_the_parameter()
    {
        // Built in code: serialized test data would turn a lone surrogate into U+FFFD.
        foreach (var consumer in new[] { "a\0b", "\0", "\uD800", "x\uDC00", "\uDC00\uD800", "end\uD83D" })
        {
            Assert.False(CheckpointNames.IsKeepable(consumer));
            Assert.Equal(nameof(consumer), Assert.Throws<ArgumentException>(() => CheckpointNames.ThrowIfNotKeepable(consumer)).ParamName);
        }

        string? missing = null;
        Assert.Equal(nameof(missing), Assert.Throws<ArgumentNullException>(() => CheckpointNames.ThrowIfNotKeepable(missing!)).ParamName);
        Assert.Throws<ArgumentNullException>(() => CheckpointNames.IsKeepable(null!));
    }

    [Fact]
    public void Names_of_at_most_MaxLength_characters_are_keepable_and_longer_ones_refused_saying_the_limit()
    {
        Assert.True(CheckpointNames.IsKeepable(new string('\u4E2D', CheckpointNames.MaxLength)));
        var consumer = new string('a', CheckpointNames.MaxLength + 1);
        Assert.False(CheckpointNames.IsKeepable(consumer));
        var refused = Assert.Throws<ArgumentException>(() => CheckpointNames.ThrowIfNotKeepable(consumer));
        Assert.Equal(nameof(consumer), refused.ParamName);
        Assert.Contains($"at most {CheckpointNames.MaxLength} characters (this one has {CheckpointNames.MaxLength + 1})", refused.Message, StringComparison.Ordinal);
    }
}
