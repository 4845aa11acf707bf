using System.Numerics;
using System.Runtime.CompilerServices;
using Commerce.InMemory.LockFree;

namespace Commerce.InMemory;

/// <summary>
/// The cells of the orders' table, indexed by a lock-free skip list (Pugh, "Skip lists: a probabilistic
/// alternative to balanced trees", CACM 1990; made lock-free by CAS on each level's link, as in Fraser's
/// and Herlihy and Shavit's lists) that only grows, sorted by the order id's time first.
/// </summary>
/// <remarks>
/// <para>
/// Order ids are version 7 UUIDs: 48 bits of milliseconds, then random bits. A hash table spreads new
/// orders over the whole table, so every insertion (which must first find that its key is absent) reads
/// a few cache lines nobody touched for a long time. Sorted by time, a new order lands at the end of the
/// list, among the orders placed just before it, and every node its insertion reads was read or written
/// moments ago. Each thread keeps the nodes its last insertion passed at every level (its finger) and
/// starts the next search from them, so it skips the walk from the head as well. Any other key order
/// works, only without that locality; a lookup of an old order reads about one cold node per level.
/// </para>
/// <para>
/// Nodes are values in an <see cref="AppendLog{T}"/> and links are positions (numbers), as the slots of
/// <see cref="ProbingCellTable"/> are, so an insertion writes no reference into an old object but its
/// own. A node is linked at level 0 by one CAS (which makes it present), then at each higher level by
/// another (an index that only speeds searches up); it is linked at a level only after every level below,
/// so a node met at one level is in all the levels below it. Nothing is ever unlinked, so any node met
/// at a level, with a key below the one sought, is a valid place to resume a search at that level
/// (the finger's nodes included), and a failed CAS resumes from where it stood. Lock-free throughout.
/// </para>
/// </remarks>
internal sealed class SkipListCellTable : CellTable
{
    private const int MaxHeight = 24; // a node's levels at most: with a quarter of the nodes at each next level, 4^23 nodes
    private const int InlineLevels = 2; // levels whose links a node holds in itself (the rest, rarer, in an array)
    private const int CachedFingers = 4; // tables a thread keeps a finger in at once
    private const int FingerLevels = 3; // levels an insertion from its thread's finger searches at least (the finger's lower ones kept fresh)
    private const long NoLevel1 = -1; // the level-1 link of a node of height 1, which no search at level 1 ever reads

    private static long s_lastId;

    // A thread's fingers: its last insertion into each of the last few tables it inserted into (by id, so
    // that no table is kept alive by a thread): the node, its key, and at every level a node it stood on, in
    // this insertion or an earlier one (each linked there, with a key below the node's). A host with several
    // stores keeps one per store.
    [ThreadStatic]
    private static Finger?[]? t_fingers;

    [ThreadStatic]
    private static int t_replaced; // the slot of t_fingers that gives way next

    [ThreadStatic]
    private static ulong t_random;

    private readonly AppendLog<Node> _nodes = new();
    private readonly long[] _head = new long[MaxHeight]; // the link (position + 1) to each level's first node; 0: none
    private readonly StripedCount _count = new();
    private readonly long _id = Interlocked.Increment(ref s_lastId);
    private int _levels = 1; // the levels in use: no node is linked at or above this one

    public SkipListCellTable()
        : base(indexed: false)
    {
    }

    public override Cell? Find(CellKey key)
    {
        var (primary, secondary) = SortKeyOf(key);
        var pred = -1L;
        var next = 0L;
        for (var level = Volatile.Read(ref _levels) - 1; level >= 0; level--)
        {
            next = Walk(ref pred, level, primary, secondary);
        }

        // The link the walk stopped at, not the predecessor's link read again: an insertion between the two
        // reads would put a smaller key there, and the key would be missed though it is present.
        return next != 0 && IsKey(next - 1, primary, secondary) ? At(next - 1).Cell : null;
    }

    public override Cell GetOrCreate(CellKey key) => Find(key) ?? CreateOrGet(key);

    public override Cell CreateOrGet(CellKey key)
    {
        var (primary, secondary) = SortKeyOf(key);
        var height = RandomHeight();
        var finger = FingerOfThisThread();
        Span<long> preds = stackalloc long[MaxHeight];
        var searched = Search(primary, secondary, height, finger, preds);

        var position = _nodes.Free();
        ref var node = ref At(position);
        node.Primary = primary;
        node.Secondary = secondary;
        node.Cell = new Cell(Absent.Value);
        node.Next1 = height == 1 ? NoLevel1 : 0;
        node.Upper = height > InlineLevels ? new long[height - InlineLevels] : null;

        // Level 0: the node is present once this CAS succeeds, unless an equal one is there.
        while (true)
        {
            var next = Walk(ref preds[0], 0, primary, secondary);
            if (next != 0 && IsKey(next - 1, primary, secondary))
            {
                node = default; // not linked: the slot is reserved again by this thread's next insertion
                return At(next - 1).Cell!;
            }

            Volatile.Write(ref node.Next0, next);
            if (Interlocked.CompareExchange(ref NextOf(preds[0], 0), position + 1, next) == next)
            {
                break;
            }
        }

        _nodes.Take();
        _count.Increment();

        // The index levels above: each after the one below, each from its own predecessor on.
        for (var level = 1; level < height; level++)
        {
            if (level >= Volatile.Read(ref _levels))
            {
                RaiseLevels(level + 1);
            }

            while (true)
            {
                var next = Walk(ref preds[level], level, primary, secondary);
                Volatile.Write(ref NextOf(position, level), next);
                if (Interlocked.CompareExchange(ref NextOf(preds[level], level), position + 1, next) == next)
                {
                    break;
                }
            }
        }

        Remember(finger, position, height, primary, secondary, preds[..searched]);
        return node.Cell!;
    }

    /// <summary>The number of entries: exact when no insertion is under way.</summary>
    public override int Count => (int)_count.Sum;

    /// <summary>The bytes a node takes in the list's log, which keeps one per order (for tests).</summary>
    internal static int NodeSize => Unsafe.SizeOf<Node>();

    /// <summary>How many nodes have each height, by height (for tests).</summary>
    internal int[] HeightCounts()
    {
        var counts = new int[MaxHeight + 1];
        for (var next = Volatile.Read(ref _head[0]); next != 0; next = Volatile.Read(ref At(next - 1).Next0))
        {
            counts[HeightOf(ref At(next - 1))]++;
        }

        return counts;
    }

    /// <summary>The levels in use (for tests).</summary>
    internal int Levels => Volatile.Read(ref _levels);

    /// <summary>Every cell, in key order (lock-free: cells inserted meanwhile may or may not be met).</summary>
    internal IEnumerable<Cell> Cells()
    {
        for (var next = Volatile.Read(ref _head[0]); next != 0; next = Volatile.Read(ref At(next - 1).Next0))
        {
            yield return At(next - 1).Cell!;
        }
    }

    /// <summary>
    /// Whether the list is well formed when no insertion is under way (for tests): every level in strictly
    /// increasing key order, every node of a level also in the level below, no node above its height.
    /// </summary>
    internal bool IsWellFormed()
    {
        var below = new HashSet<long>();
        for (var level = 0; level < MaxHeight; level++)
        {
            var here = new HashSet<long>();
            var previous = -1L;
            for (var next = Volatile.Read(ref _head[level]); next != 0; next = Volatile.Read(ref NextOf(next - 1, level)))
            {
                var position = next - 1;
                if (HeightOf(ref At(position)) <= level || (level > 0 && !below.Contains(position)) || !here.Add(position)
                    || (previous >= 0 && !Less(At(previous).Primary, At(previous).Secondary, At(position).Primary, At(position).Secondary)))
                {
                    return false;
                }

                previous = position;
            }

            below = here;
        }

        return true;
    }

    /// <summary>
    /// The order the list keeps: an order id's 48 bits of milliseconds first (the first word holds them as
    /// a GUID's first two fields, little-endian, below its third), then the rest; for any other key, some
    /// total order.
    /// </summary>
    internal static (ulong Primary, ulong Secondary) SortKeyOf(in CellKey key)
    {
        var high = (ulong)key.High;
        var primary = ((high & 0xFFFF_FFFFUL) << 32) | (((high >> 32) & 0xFFFF) << 16) | (high >> 48);
        return (primary, (ulong)key.Low);
    }

    /// <summary>
    /// Fills <paramref name="preds"/> with, at each level the search went through, the last node (or the head,
    /// −1) whose key is below the one sought, starting each level from the better of the level above's and the
    /// finger's; and with the head at every level above those in use. It goes through every level in use, or, from
    /// a finger below the key, only those a node of <paramref name="height"/> is linked at (and at least
    /// <see cref="FingerLevels"/>), since the finger's nodes are a place to start at any level and an insertion
    /// needs no other. Returns how many of <paramref name="preds"/>, from level 0, it filled: all of them after
    /// a search through every level, else the levels it went through.
    /// </summary>
    private int Search(ulong primary, ulong secondary, int height, Finger? finger, Span<long> preds)
    {
        var useFinger = finger is not null && Less(finger.Primary, finger.Secondary, primary, secondary);
        var pred = -1L;
        var levels = Volatile.Read(ref _levels);
        preds[levels..].Fill(-1);
        var searched = useFinger ? Math.Min(levels, Math.Max(height, FingerLevels)) : levels;
        for (var level = searched - 1; level >= 0; level--)
        {
            if (useFinger)
            {
                // The finger's node at its own levels, else the node it stood on: linked at this level, below the key.
                var hint = level < finger!.Height ? finger.Node : finger.Preds[level];
                if (hint >= 0 && (pred < 0 || Before(ref At(pred), ref At(hint))))
                {
                    pred = hint;
                }
            }

            Walk(ref pred, level, primary, secondary);
            preds[level] = pred;
        }

        return searched == levels ? MaxHeight : searched;
    }

    /// <summary>
    /// Moves <paramref name="pred"/> right at <paramref name="level"/> past every node below the key, and
    /// returns the link after it (0 at the end).
    /// </summary>
    private long Walk(ref long pred, int level, ulong primary, ulong secondary)
    {
        var next = Volatile.Read(ref NextOf(pred, level));
        while (next != 0)
        {
            ref var node = ref At(next - 1); // found once, for its key and its link
            if (!Less(node.Primary, node.Secondary, primary, secondary))
            {
                break;
            }

            pred = next - 1;
            next = Volatile.Read(ref LinkOf(ref node, level));
        }

        return next;
    }

    /// <summary>This thread's finger in this table, if it has one.</summary>
    private Finger? FingerOfThisThread()
    {
        if (t_fingers is { } fingers)
        {
            foreach (var finger in fingers)
            {
                if (finger?.Table == _id)
                {
                    return finger;
                }
            }
        }

        return null;
    }

    /// <summary>
    /// Keeps this insertion as the thread's finger for this table: <paramref name="preds"/> at the levels the search
    /// went through; above them, the finger's own node where it is linked (below this key, and closer to it than
    /// the node it stood on), else what the finger held.
    /// </summary>
    private void Remember(Finger? finger, long position, int height, ulong primary, ulong secondary, ReadOnlySpan<long> preds)
    {
        if (finger is null)
        {
            finger = new Finger(_id);
            (t_fingers ??= new Finger?[CachedFingers])[t_replaced++ & (CachedFingers - 1)] = finger;
        }

        for (var level = preds.Length; level < finger.Height; level++)
        {
            finger.Preds[level] = finger.Node;
        }

        finger.Node = position;
        finger.Height = height;
        finger.Primary = primary;
        finger.Secondary = secondary;
        preds.CopyTo(finger.Preds);
    }

    private void RaiseLevels(int levels)
    {
        var current = Volatile.Read(ref _levels);
        while (current < levels)
        {
            var seen = Interlocked.CompareExchange(ref _levels, levels, current);
            current = seen == current ? levels : seen;
        }
    }

    private static bool Less(ulong primary, ulong secondary, ulong otherPrimary, ulong otherSecondary) =>
        primary != otherPrimary ? primary < otherPrimary : secondary < otherSecondary;

    private static bool Before(ref Node node, ref Node other) => Less(node.Primary, node.Secondary, other.Primary, other.Secondary);

    private bool IsKey(long position, ulong primary, ulong secondary) =>
        At(position).Primary == primary && At(position).Secondary == secondary;

    /// <summary>The link word at <paramref name="level"/> of a node (or of the head, −1).</summary>
    private ref long NextOf(long node, int level)
    {
        if (node < 0)
        {
            return ref _head[level];
        }

        return ref LinkOf(ref At(node), level);
    }

    /// <summary>A node's link word at <paramref name="level"/>.</summary>
    private static ref long LinkOf(ref Node node, int level) =>
        ref level == 0 ? ref node.Next0 : ref level == 1 ? ref node.Next1 : ref node.Upper![level - InlineLevels];

    private ref Node At(long position) => ref _nodes[position];

    /// <summary>A node's height: 1, then one more with a chance of a quarter each time.</summary>
    private static int RandomHeight()
    {
        var x = t_random;
        if (x == 0)
        {
            x = (ulong)Random.Shared.NextInt64() | 1;
        }

        // xorshift64
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        t_random = x;
        return Math.Min(MaxHeight, 1 + (BitOperations.TrailingZeroCount(x) / 2));
    }

    /// <summary>A node's height (for tests): its upper links' count and two, else two unless its level-1 link says one.</summary>
    private static int HeightOf(ref Node node) =>
        node.Upper is { } upper ? upper.Length + InlineLevels : node.Next1 == NoLevel1 ? 1 : 2;

    /// <summary>
    /// A node: its key (as sorted), its cell, and its links (position + 1; 0 at the end). Its height is not
    /// kept (48 bytes, not 56, for every order): the length of <see cref="Upper"/> gives it, or, for the nodes
    /// without, <see cref="Next1"/> (<see cref="NoLevel1"/> in a node of height 1).
    /// </summary>
    private struct Node
    {
        public ulong Primary;
        public ulong Secondary;
        public Cell? Cell;
        public long Next0;
        public long Next1;
        public long[]? Upper; // links at levels 2 … height − 1
    }

    /// <summary>A thread's last insertion into one table (see <see cref="t_fingers"/>).</summary>
    private sealed class Finger(long table)
    {
        public long Table { get; } = table;

        public long Node { get; set; }

        public int Height { get; set; }

        public ulong Primary { get; set; }

        public ulong Secondary { get; set; }

        public long[] Preds { get; } = new long[MaxHeight];
    }
}
