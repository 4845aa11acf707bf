using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;

namespace Commerce.InMemory;

/// <summary>
/// Starts loading the cache lines of an object's first bytes without waiting for them, so that a miss the code will meet
/// later overlaps the misses it waits for now (a batch read issues the next level's lines with its own).
/// </summary>
internal static class Prefetch
{
    /// <summary>
    /// Prefetches the lines of <paramref name="target"/>'s first 64 bytes: the word of its type, which a type check
    /// reads, and all its fields if they take 56 bytes or fewer. An object starts anywhere within a line (at a multiple
    /// of 8 bytes), so those bytes lie on two lines unless it starts one; the first line alone would miss, for a cell of
    /// 64 bytes, its last fields five times in eight. (Past a smaller object, the second line may be the next object's.)
    /// Nothing if it is null, or on a processor without the instruction.
    /// A prefetch never faults and changes nothing; if a collection moves the object meanwhile, it loads lines nobody
    /// needs. (The one use of a pointer in the store, which is why the project allows unsafe code: the pointer is never
    /// dereferenced.)
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe void Object(object? target)
    {
        if (Sse.IsSupported && target is not null)
        {
            var fields = (byte*)Unsafe.AsPointer(ref Unsafe.As<StrongBox<nint>>(target).Value); // just past the type's word
            Sse.Prefetch0(fields - sizeof(nint)); // the type's word
            Sse.Prefetch0(fields + 48); // its bytes 56 to 63: on the next line, unless the object starts one
        }
    }

    /// <summary>
    /// Prefetches the line of <paramref name="array"/>'s element <paramref name="index"/>, which must be within it: not
    /// checked, since a check would read the array's length, on a line that may be the one still loading (a wrong index
    /// loads a line nobody needs; a prefetch never faults). Nothing on a processor without the instruction.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe void Element<T>(T[] array, int index)
    {
        if (Sse.IsSupported)
        {
            Sse.Prefetch0(Unsafe.AsPointer(ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(array), (nint)(uint)index)));
        }
    }
}
