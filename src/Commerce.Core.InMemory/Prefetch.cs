using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;

namespace Commerce.InMemory;

/// <summary>
/// Starts loading an object's first cache line without waiting for it, so that a miss the code will meet
/// later overlaps the misses it waits for now (a batch read issues the next level's lines with its own).
/// </summary>
internal static class Prefetch
{
    /// <summary>
    /// Prefetches <paramref name="target"/>'s first line: nothing if it is null, or on a processor without the
    /// instruction. A prefetch never faults and changes nothing; if a collection moves the object meanwhile,
    /// it loads a line nobody needs. (The one use of a pointer in the store, which is why the project allows
    /// unsafe code: the pointer is never dereferenced.)
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe void Line(object? target)
    {
        if (Sse.IsSupported && target is not null)
        {
            Sse.Prefetch0(Unsafe.AsPointer(ref Unsafe.As<StrongBox<nint>>(target).Value));
        }
    }
}
