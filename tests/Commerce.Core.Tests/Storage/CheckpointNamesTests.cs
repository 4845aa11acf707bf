using Commerce.Storage;

namespace Commerce.Tests.Storage;

public sealed class CheckpointNamesTests
{
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
