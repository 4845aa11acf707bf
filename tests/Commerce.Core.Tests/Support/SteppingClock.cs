namespace Commerce.Tests.Support;

/// <summary>
/// A clock whose time of day can be set anywhere (a jump ahead, a step back) while its timestamps, the clock that
/// measures elapsed time, only move with <see cref="Advance"/>.
/// </summary>
internal sealed class SteppingClock(DateTimeOffset start) : TimeProvider
{
    private DateTimeOffset _wall = start;
    private long _elapsed;

    public override DateTimeOffset GetUtcNow() => _wall;

    public override long TimestampFrequency => TimeSpan.TicksPerSecond;

    public override long GetTimestamp() => _elapsed;

    /// <summary>Time passes: both clocks move on.</summary>
    public void Advance(TimeSpan by)
    {
        _wall += by;
        _elapsed += by.Ticks;
    }

    /// <summary>The time of day is set, and no time passes.</summary>
    public void SetWall(DateTimeOffset wall) => _wall = wall;
}
