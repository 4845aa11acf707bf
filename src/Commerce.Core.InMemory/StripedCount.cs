using System.Numerics;

namespace Commerce.InMemory;

/// <summary>
/// A count kept on striped counters, one per thread (<see cref="ThreadStripe"/>; threads share them
/// beyond <see cref="Stripes"/>), each on its own cache line, so that threads counting at once do not all
/// write one word; summed only when read.
/// </summary>
internal sealed class StripedCount
{
    /// <summary>The number of stripes: twice the processors, at least 8 and at most 64.</summary>
    internal static readonly int Stripes = Math.Clamp((int)BitOperations.RoundUpToPowerOf2((uint)Environment.ProcessorCount * 2), 8, 64);

    private const int Pad = 8; // longs per stripe: one 64-byte cache line

    // Stripe i at index (i + 1) · Pad: the first line holds the array's length, which every increment's
    // bounds check reads, so no stripe is written there.
    private readonly long[] _counts = new long[(Stripes + 1) * Pad];

    /// <summary>Adds one on this thread's stripe.</summary>
    /// <returns>That stripe's count now.</returns>
    public long Increment() => Interlocked.Increment(ref _counts[(ThreadStripe.Of(Stripes) + 1) * Pad]);

    /// <summary>The sum of the stripes: exact when no increment is under way.</summary>
    public long Sum
    {
        get
        {
            long sum = 0;
            for (var i = Pad; i < _counts.Length; i += Pad)
            {
                sum += Volatile.Read(ref _counts[i]);
            }

            return sum;
        }
    }
}
