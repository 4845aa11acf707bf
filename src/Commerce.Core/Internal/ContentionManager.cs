using System.Diagnostics;

namespace Commerce;

/// <summary>
/// Keeps a use case that keeps losing from starving. Optimistic commits are lock-free but not
/// starvation-free: a use case whose commit keeps finding its reads changed (a charge on a wallet that
/// another thread charges every microsecond) could lose every one of its attempts. After
/// <see cref="PriorityAfterAttempts"/> lost attempts, a use case takes the one priority token; while
/// someone holds it, every other writing use case waits before it starts an attempt, so the holder's
/// next attempt meets at most the commits already under way. The wait is bounded (a few of the holder's
/// attempts long), so progress never depends on a thread that was descheduled while holding the token:
/// the store stays lock-free, and the token only orders who goes first while everyone runs.
/// </summary>
internal sealed class ContentionManager
{
    private Holder? _holder;

    /// <summary>The number of lost attempts after which a use case takes the token (if it is free). Default 8.</summary>
    internal int PriorityAfterAttempts { get; set; } = 8;

    /// <summary>A test seam: how long others wait for the holder, instead of a bound derived from its attempts.</summary>
    internal TimeSpan? FixedPatience { get; set; }

    /// <summary>A test seam: called on a use case's thread when it starts waiting for the holder.</summary>
    internal Action? OnGiveWay { get; set; }

    /// <summary>Whether some use case holds the token now (for tests and diagnostics).</summary>
    internal bool IsHeld => Volatile.Read(ref _holder) is not null;

    /// <summary>
    /// Takes the token for a use case that lost <paramref name="attempts"/> attempts, the last of which took
    /// <paramref name="lastAttempt"/>, if it is due and free.
    /// </summary>
    /// <returns>The token to pass to <see cref="Release"/>, or <see langword="null"/>.</returns>
    public object? TryTake(int attempts, TimeSpan lastAttempt)
    {
        if (attempts < PriorityAfterAttempts || Volatile.Read(ref _holder) is not null)
        {
            return null;
        }

        var holder = new Holder(FixedPatience ?? Patience(lastAttempt));
        return Interlocked.CompareExchange(ref _holder, holder, null) is null ? holder : null;
    }

    /// <summary>Gives the token back (a no-op for <see langword="null"/> or a token no longer held).</summary>
    public void Release(object? token)
    {
        if (token is Holder holder)
        {
            Interlocked.CompareExchange(ref _holder, null, holder);
        }
    }

    /// <summary>
    /// Waits, before an attempt, while another use case holds the token, for at most that holder's
    /// patience; returns at once when nobody does (one volatile read).
    /// </summary>
    public ValueTask GiveWayAsync(object? ownToken, CancellationToken cancellationToken)
    {
        var holder = Volatile.Read(ref _holder);
        return holder is null || ReferenceEquals(holder, ownToken) ? ValueTask.CompletedTask : WaitAsync(holder, cancellationToken);
    }

    private async ValueTask WaitAsync(Holder holder, CancellationToken cancellationToken)
    {
        OnGiveWay?.Invoke();
        var started = Stopwatch.GetTimestamp();
        var spinner = default(SpinWait);
        while (ReferenceEquals(Volatile.Read(ref _holder), holder) && Stopwatch.GetElapsedTime(started) < holder.Patience)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (holder.Patience < SpinLimit)
            {
                spinner.SpinOnce(sleep1Threshold: -1);
            }
            else
            {
                await Task.Delay(TimeSpan.FromMilliseconds(1), cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Waits shorter than this spin (an in-memory holder); longer ones sleep in steps of a millisecond.</summary>
    private static readonly TimeSpan SpinLimit = TimeSpan.FromMilliseconds(1);

    /// <summary>Four of the holder's attempts, within [50 µs, 100 ms]: enough for it to commit, short if it stalls.</summary>
    private static TimeSpan Patience(TimeSpan lastAttempt) =>
        TimeSpan.FromTicks(Math.Clamp(lastAttempt.Ticks * 4, TimeSpan.FromMicroseconds(50).Ticks, TimeSpan.FromMilliseconds(100).Ticks));

    private sealed class Holder(TimeSpan patience)
    {
        public TimeSpan Patience { get; } = patience;
    }
}
