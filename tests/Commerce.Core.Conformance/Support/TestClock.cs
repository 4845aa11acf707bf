namespace Commerce.Conformance;

/// <summary>The one instant every test's fake clock starts at unless the test needs another.</summary>
public static class TestClock
{
    /// <summary>
    /// 2026-11-24 12:00:00 UTC: the start of a minute (the default ranking resolution), of an hour and
    /// of a day, so that a test's advances land on bucket boundaries it can name.
    /// </summary>
    public static readonly DateTimeOffset Start = new(2026, 11, 24, 12, 0, 0, TimeSpan.Zero);
}
