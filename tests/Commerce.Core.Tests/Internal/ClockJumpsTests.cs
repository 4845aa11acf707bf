using Commerce.Conformance;
using Commerce.Tests.Support;

namespace Commerce.Tests.Internal;

/// <summary>How far a clock jumped ahead of the time that passed, over the last period, from a few kept changes.</summary>
public sealed class ClockJumpsTests
{
    private static readonly TimeSpan Period = TimeSpan.FromDays(1);

    [Fact]
    public void A_clock_that_only_moves_on_is_never_ahead_and_keeps_one_look_however_often_it_is_looked_at()
    {
        var clock = new SteppingClock(TestClock.Start);
        var jumps = new ClockJumps(clock, clock.GetUtcNow());
        for (var i = 0; i < 10_000; i++)
        {
            clock.Advance(TimeSpan.FromMinutes(1));
            Assert.Equal(TimeSpan.Zero, jumps.Ahead(clock.GetUtcNow(), Period));
        }

        Assert.Equal(1, jumps.Looks);
    }

    [Fact]
    public void A_jump_ahead_counts_until_a_period_has_passed_since_it()
    {
        var clock = new SteppingClock(TestClock.Start);
        var jumps = new ClockJumps(clock, clock.GetUtcNow());
        clock.Advance(TimeSpan.FromHours(1));
        clock.SetWall(clock.GetUtcNow() + TimeSpan.FromDays(2));
        Assert.Equal(TimeSpan.FromDays(2), jumps.Ahead(clock.GetUtcNow(), Period));

        clock.Advance(Period - TimeSpan.FromTicks(1));
        Assert.Equal(TimeSpan.FromDays(2), jumps.Ahead(clock.GetUtcNow(), Period));

        clock.Advance(TimeSpan.FromTicks(1));
        Assert.Equal(TimeSpan.Zero, jumps.Ahead(clock.GetUtcNow(), Period));
        Assert.Equal(1, jumps.Looks);
    }

    [Fact]
    public void A_step_back_is_not_ahead_and_setting_it_right_again_counts_the_step_for_a_period()
    {
        var clock = new SteppingClock(TestClock.Start);
        var jumps = new ClockJumps(clock, clock.GetUtcNow());
        clock.SetWall(clock.GetUtcNow() - TimeSpan.FromHours(3));
        Assert.Equal(TimeSpan.Zero, jumps.Ahead(clock.GetUtcNow(), Period));

        // What was stamped during the step is up to three hours younger than its stamp says once the clock is right.
        clock.Advance(TimeSpan.FromHours(1));
        clock.SetWall(clock.GetUtcNow() + TimeSpan.FromHours(3));
        Assert.Equal(TimeSpan.FromHours(3), jumps.Ahead(clock.GetUtcNow(), Period));

        clock.Advance(Period);
        Assert.Equal(TimeSpan.Zero, jumps.Ahead(clock.GetUtcNow(), Period));
    }

    [Fact]
    public void A_clock_that_keeps_jumping_keeps_a_bounded_number_of_looks_and_never_counts_less_than_its_jumps()
    {
        var clock = new SteppingClock(TestClock.Start);
        var jumps = new ClockJumps(clock, clock.GetUtcNow());
        for (var i = 1; i <= 1_000; i++)
        {
            // Back an hour, then a minute later ahead two hours: ahead of the lowest offset by two hours, then one.
            clock.Advance(TimeSpan.FromMinutes(1));
            clock.SetWall(clock.GetUtcNow() + (i % 2 == 0 ? TimeSpan.FromHours(2) : -TimeSpan.FromHours(1)));
            Assert.InRange(jumps.Ahead(clock.GetUtcNow(), Period), TimeSpan.FromHours(i % 2 == 0 ? 2 : 0), TimeSpan.MaxValue);
            Assert.InRange(jumps.Looks, 1, ClockJumps.MaxLooks);
        }
    }
}
