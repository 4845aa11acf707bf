namespace Commerce.InMemory;

/// <summary>
/// Which stripe of a striped counter this thread writes: a number handed to each thread on its first use,
/// in turn, so that up to <c>n</c> threads counting at once each have their own of <c>n</c> stripes.
/// </summary>
/// <remarks>
/// Striping by processor (<see cref="Thread.GetCurrentProcessorId"/>) would be better if the number were
/// exact, but the runtime caches it per thread and refreshes it only now and then: with more threads than
/// processors, threads move between processors, and two running threads whose cached numbers are stale
/// write one stripe from two processors, which is the contention striping is there to avoid. A thread's own
/// number never goes stale; its stripe's cache line moves only when the thread does.
/// </remarks>
internal static class ThreadStripe
{
    private static int s_last;

    [ThreadStatic]
    private static int t_number; // 0: not handed out yet

    /// <summary>This thread's stripe among <paramref name="stripes"/> (a power of two): from 0 to <paramref name="stripes"/> − 1.</summary>
    public static int Of(int stripes)
    {
        var number = t_number;
        if (number == 0)
        {
            number = t_number = Interlocked.Increment(ref s_last);
        }

        return (number - 1) & (stripes - 1);
    }
}
