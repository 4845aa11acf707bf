namespace Commerce.Hosting.Tests.DependencyInjection;

public sealed class CommerceEventDispatcherOptionsTests
{
    public static TheoryData<Action<CommerceEventDispatcherOptions>, string> InvalidSettings => new()
    {
        { o => o.PageSize = 1_001, "PageSize must be between 1 and 1000, but was 1001." },
        { o => o.MaxDeliveryAttempts = 0, "MaxDeliveryAttempts must be at least 1, but was 0." },
        { o => o.PoisonEventPolicy = (PoisonEventPolicy)7, "PoisonEventPolicy must be Skip or Stop, but was 7." },
        { o => (o.RetryBaseDelay, o.MaxRetryDelay) = (TimeSpan.FromDays(2), TimeSpan.FromDays(1)), "RetryBaseDelay must be between 1 millisecond and 1 day, but was 2.00:00:00." },
        { o => o.MaxRetryDelay = TimeSpan.FromMilliseconds(500), "MaxRetryDelay must be between RetryBaseDelay (00:00:01) and 1 day, but was 00:00:00.5000000." },
        { o => o.EventRetention = TimeSpan.Zero, "EventRetention must be between 1 second and 36500 days, or null to keep every event, but was 00:00:00." },
        { o => o.PurgeInterval = TimeSpan.FromDays(2), "PurgeInterval must be between 1 second and 1 day, but was 2.00:00:00." },
        { o => o.DisposeTimeout = TimeSpan.FromSeconds(-1), "DisposeTimeout must be between zero and 1 day, but was -00:00:01." },
        { o => o.LockRetryDelay = TimeSpan.Zero, "LockRetryDelay must be between 1 millisecond and 1 day, but was 00:00:00." },
        { o => o.LockRetryDelay = TimeSpan.FromDays(2), "LockRetryDelay must be between 1 millisecond and 1 day, but was 2.00:00:00." },
    };

    [Theory]
    [MemberData(nameof(InvalidSettings))]
    public void An_invalid_setting_is_named_with_its_rule_and_its_value(Action<CommerceEventDispatcherOptions> configure, string expected)
    {
        var options = new CommerceEventDispatcherOptions();
        configure(options);

        Assert.Equal(expected, Assert.Single(options.Validate()));
    }
}
