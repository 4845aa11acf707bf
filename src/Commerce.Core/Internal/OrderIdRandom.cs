using System.Security.Cryptography;

namespace Commerce;

/// <summary>
/// Version 7 GUIDs (RFC 9562) laid out exactly as <see cref="Guid.CreateVersion7(DateTimeOffset)"/> lays
/// them out: 48 bits of milliseconds, then the 12 bits of <c>rand_a</c>, then the 62 bits of <c>rand_b</c>,
/// drawn from a per-thread buffer of cryptographically secure bytes. <see cref="Guid.CreateVersion7(DateTimeOffset)"/>
/// asks the operating system for 16 bytes on every call (a system call per order); the buffer asks for 1 KiB
/// at a time, about one call per hundred ids.
/// </summary>
/// <remarks>
/// <c>rand_a</c> is a sequence, as RFC 9562 (section 6.2, method 1) allows: 4 bits of the thread's lane (a
/// number handed to each thread in turn) and 8 bits counting the thread's ids within the millisecond. So one
/// thread's ids of one millisecond sort in the order they were made, after each other and apart from other
/// threads' (up to 16 threads, then lanes are shared), and an index sorted by id (the in-memory store's
/// orders, a database's primary key) inserts each at the end of the thread's run rather than anywhere in the
/// millisecond. The 62 random bits keep ids unique and unguessable; past 256 ids in a millisecond the count
/// wraps, and ids of one thread are then merely unique.
/// </remarks>
internal static class OrderIdRandom
{
    private const int BufferSize = 1024;
    private const int BytesPerId = 8;
    private const int Lanes = 16;

    private static int s_lastLane;

    [ThreadStatic]
    private static byte[]? t_buffer;

    [ThreadStatic]
    private static int t_used;

    [ThreadStatic]
    private static int t_lane; // 0: none yet; else the lane + 1

    [ThreadStatic]
    private static long t_millisecond;

    [ThreadStatic]
    private static int t_count; // ids this thread made in t_millisecond

    /// <summary>A new version 7 GUID for an order placed at <paramref name="placedAt"/>.</summary>
    /// <param name="placedAt">
    /// The time the id carries. Named as the argument of <see cref="OrderId.New"/>, the public method that passes it
    /// through, so that the exception a caller of that method gets names an argument it can see.
    /// </param>
    /// <returns>The GUID.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="placedAt"/> is before 1970 or past 48 bits of milliseconds.</exception>
    public static Guid NewVersion7(DateTimeOffset placedAt)
    {
        var milliseconds = placedAt.ToUnixTimeMilliseconds();
        ArgumentOutOfRangeException.ThrowIfNegative(milliseconds, nameof(placedAt));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(milliseconds, 0xFFFF_FFFF_FFFFL, nameof(placedAt));

        var buffer = t_buffer;
        var used = t_used;
        if (buffer is null || used > BufferSize - BytesPerId)
        {
            buffer = t_buffer ??= new byte[BufferSize];
            RandomNumberGenerator.Fill(buffer);
            used = 0;
        }

        var random = buffer.AsSpan(used, BytesPerId);
        t_used = used + BytesPerId;
        var guid = new Guid(
            (int)(milliseconds >> 16),
            (short)milliseconds,
            (short)(0x7000 | Sequence(milliseconds)),
            (byte)(0x80 | (random[0] & 0x3F)),
            random[1],
            random[2],
            random[3],
            random[4],
            random[5],
            random[6],
            random[7]);

        // Used bytes are not left behind for anything else to read.
        random.Clear();
        return guid;
    }

    /// <summary>The 12 bits of <c>rand_a</c>: the thread's lane, then its count of ids in <paramref name="milliseconds"/>.</summary>
    private static int Sequence(long milliseconds)
    {
        var lane = t_lane;
        if (lane == 0)
        {
            lane = t_lane = (Interlocked.Increment(ref s_lastLane) & (Lanes - 1)) + 1;
        }

        var count = milliseconds == t_millisecond ? t_count + 1 : 0;
        t_millisecond = milliseconds;
        t_count = count;
        return ((lane - 1) << 8) | (count & 0xFF);
    }
}
