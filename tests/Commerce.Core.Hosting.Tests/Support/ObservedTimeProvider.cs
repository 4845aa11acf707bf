using System.Threading.Channels;
using Microsoft.Extensions.Time.Testing;

namespace Commerce.Hosting.Tests.Support;

/// <summary>
/// A <see cref="FakeTimeProvider"/> that reports every timer created on it (a <c>Task.Delay</c> through it
/// is one), so that a test advances time only once the code under test is waiting, and by what it waits.
/// </summary>
internal sealed class ObservedTimeProvider : TimeProvider
{
    private readonly Channel<TimeSpan> _timers = Channel.CreateUnbounded<TimeSpan>();

    public static DateTimeOffset Origin { get; } = new(2026, 12, 1, 0, 0, 0, TimeSpan.Zero);

    public FakeTimeProvider Fake { get; } = new(Origin);

    /// <summary>How far the time of day is set away from the fake clock (a jump, a step back); timestamps and timers do not follow.</summary>
    public TimeSpan WallOffset { get; set; }

    public override DateTimeOffset GetUtcNow() => Fake.GetUtcNow() + WallOffset;

    public override long GetTimestamp() => Fake.GetTimestamp();

    public override long TimestampFrequency => Fake.TimestampFrequency;

    public override TimeZoneInfo LocalTimeZone => Fake.LocalTimeZone;

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var timer = Fake.CreateTimer(callback, state, dueTime, period);
        _timers.Writer.TryWrite(dueTime);
        return timer;
    }

    /// <summary>The due time of the next timer created (waiting for one if none was), failing after 10 s as a safety net.</summary>
    public async Task<TimeSpan> NextTimerAsync() => await _timers.Reader.ReadAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10));

    /// <summary>Waits for a timer due in <paramref name="due"/> to be created, passing over the others (each failing after 10 s as a safety net).</summary>
    public async Task TimerDueInAsync(TimeSpan due)
    {
        while (await NextTimerAsync() != due)
        {
        }
    }

    /// <summary>Waits for the next timer and advances the clock to it; returns its due time.</summary>
    public async Task<TimeSpan> AdvanceToNextTimerAsync()
    {
        var due = await NextTimerAsync();
        Fake.Advance(due);
        return due;
    }
}
