namespace Commerce.Tests.DependencyInjection;

public sealed class CommerceOptionsTests
{
    public static TheoryData<Action<CommerceOptions>, string> InvalidSettings => new()
    {
        { o => o.MaxChargeAmount = new Money(-5), "MaxChargeAmount must be positive, but was -5." },
        { o => o.MaxBalance = Money.Zero, "MaxBalance must be positive, but was 0." },
        { o => o.MaxLineQuantity = -1, "MaxLineQuantity must be positive, but was -1." },
        { o => o.MaxOrderLines = 0, "MaxOrderLines must be positive, but was 0." },
        { o => o.MaxProductNameLength = -2, "MaxProductNameLength must be positive, but was -2." },
        { o => o.DefaultPageSize = 101, "DefaultPageSize must be between 1 and MaxPageSize (100), but was 101." },
        { o => o.PopularProductsCount = 0, "PopularProductsCount must be between 1 and MaxPopularProductsCount (100), but was 0." },
        { o => o.RankingResolution = TimeSpan.FromMilliseconds(500), "RankingResolution must be between 1 second and 1 day, but was 00:00:00.5000000." },
        { o => o.MaxRankingWindow = TimeSpan.FromDays(4_000), "MaxRankingWindow must be positive and at most 3660 days, but was 4000.00:00:00." },
        { o => o.PopularProductsWindow = TimeSpan.FromDays(400), "PopularProductsWindow must be positive and at most MaxRankingWindow (366.00:00:00), but was 400.00:00:00." },
        { o => o.MaxCommitAttempts = 0, "MaxCommitAttempts must be positive, but was 0." },
        { o => o.MaxRetryDelay = TimeSpan.FromMinutes(1), "MaxRetryDelay must be at least RetryBaseDelay (00:00:00.0010000) and at most 30 seconds, but was 00:01:00." },
        { o => o.IdempotencyRetention = TimeSpan.Zero, "IdempotencyRetention must be between 1 second and 366 days, but was 00:00:00." },
    };

    [Theory]
    [MemberData(nameof(InvalidSettings))]
    public void An_invalid_setting_is_named_with_its_rule_and_its_value(Action<CommerceOptions> configure, string expected)
    {
        var options = new CommerceOptions();
        configure(options);

        Assert.Equal(expected, Assert.Single(options.Validate()));
    }

    [Fact]
    public void A_negative_base_delay_is_named_with_its_value()
    {
        var options = new CommerceOptions { RetryBaseDelay = TimeSpan.FromMilliseconds(-1), MaxRetryDelay = TimeSpan.Zero };

        Assert.Equal("RetryBaseDelay cannot be negative, but was -00:00:00.0010000.", Assert.Single(options.Validate()));
    }
}
