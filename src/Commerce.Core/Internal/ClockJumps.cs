namespace Commerce;

/// <summary>
/// How far a clock's time of day has run ahead of the time that really passed (a jump forward: a wrong time
/// source, a host resumed from a pause) within about the last period, measured against the provider's timestamps
/// (<see cref="TimeProvider.GetTimestamp"/>, a clock nobody sets) at each look. Something kept "for a period by the
/// clock" is only as old as the time that passed: a clean-up that moves its cutoff back by this much removes
/// nothing younger than the period, and a clock that is set right again after a jump finds what it expects.
/// </summary>
/// <remarks>
/// Lock-free: the looks are kept in an array replaced by compare-and-swap. Only a look that finds the offset
/// between the two clocks changed (by <see cref="Tolerance"/> or more) is kept, as the point from which the new
/// offset holds, so the array holds the changes of about the last period (at most <see cref="MaxLooks"/>, older
/// ones merged, which only makes a jump count a little longer), however often it is looked at. A clock set back
/// needs no correction (what it stamps is kept longer by it anyway), and a jump stops counting once a period has
/// passed since it.
/// </remarks>
internal sealed class ClockJumps
{
    private readonly TimeProvider _time;
    private readonly long _origin;
    private Look[] _looks;

    /// <summary>Starts measuring at the clock's time of day <paramref name="now"/>.</summary>
    public ClockJumps(TimeProvider time, DateTimeOffset now)
    {
        _time = time;
        _origin = time.GetTimestamp();
        _looks = [new Look(0, now.UtcTicks)];
    }

    /// <summary>A change of the offset smaller than this (a slewed clock drifting) is not kept as a change.</summary>
    internal static readonly TimeSpan Tolerance = TimeSpan.FromSeconds(1);

    /// <summary>The most changes kept.</summary>
    internal const int MaxLooks = 32;

    /// <summary>How many changes are kept (for tests).</summary>
    internal int Looks => Volatile.Read(ref _looks).Length;

    /// <summary>
    /// Looks at the clock, whose time of day was just read as <paramref name="now"/>, and returns how far it is
    /// further ahead of the elapsed time than it was at its furthest behind within the last <paramref name="period"/>
    /// (counting the offset that held at the period's start); zero if it did not jump ahead.
    /// </summary>
    public TimeSpan Ahead(DateTimeOffset now, TimeSpan period)
    {
        var elapsed = _time.GetElapsedTime(_origin).Ticks;
        var offset = now.UtcTicks - elapsed;
        Look[] seen, kept;
        do
        {
            // The last change made a period ago or earlier still held at the period's start: it and every later one are kept.
            seen = Volatile.Read(ref _looks);
            var first = seen.Length - 1;
            while (first > 0 && seen[first].Elapsed > elapsed - period.Ticks)
            {
                first--;
            }

            var changed = Math.Abs(offset - seen[^1].Offset) >= Tolerance.Ticks;
            if (first == 0 && !changed)
            {
                kept = seen;
                break;
            }

            kept = changed ? [.. seen.AsSpan(first), new Look(elapsed, offset)] : seen[first..];
            if (kept.Length > MaxLooks)
            {
                // The oldest two as one, from the first's time with the lower offset: a jump counts a little longer, never less.
                kept = [new Look(kept[0].Elapsed, Math.Min(kept[0].Offset, kept[1].Offset)), .. kept.AsSpan(2)];
            }
        }
        while (Interlocked.CompareExchange(ref _looks, kept, seen) != seen);

        var lowest = offset;
        foreach (var look in kept)
        {
            lowest = Math.Min(lowest, look.Offset);
        }

        return TimeSpan.FromTicks(offset - lowest);
    }

    /// <summary>One change: the elapsed ticks, and the clock's UTC ticks less them from then on.</summary>
    private readonly record struct Look(long Elapsed, long Offset);
}
