using Commerce.Events;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;

namespace Commerce.Tests.Events;

/// <summary>
/// Properties of <see cref="EventCursor"/>, <see cref="EventPosition"/> and <see cref="EventStream"/>, checked
/// against a plain model: a cursor is, for each stripe, the number of the last event it covers (0 for none).
/// </summary>
[Properties(Arbitrary = [typeof(CursorGenerators)], Replay = "20261206,1442695040888963407", MaxTest = 300)]
public sealed class EventCursorPropertyTests
{
    /// <summary>The stripes and numbers a cursor is checked at: every stripe either cursor names or the one after, each at, just below and just above its numbers.</summary>
    private static IEnumerable<EventPosition> Probes(params EventCursor[] cursors)
    {
        var stripes = cursors.SelectMany(c => c.Stripes.Select(p => p.Stripe)).Append(0).ToHashSet();
        foreach (var stripe in stripes.ToList())
        {
            stripes.Add(stripe + 1 < EventCursor.MaxStripes ? stripe + 1 : stripe);
        }

        foreach (var stripe in stripes)
        {
            var numbers = cursors.SelectMany(c => new[] { c[stripe] - 1, c[stripe], c[stripe] == long.MaxValue ? c[stripe] : c[stripe] + 1 }).Append(1);
            foreach (var number in numbers.Where(n => n > 0).Distinct())
            {
                yield return new EventPosition(stripe, number);
            }
        }
    }

    [Property]
    public bool A_cursor_reads_back_from_its_text_equal_with_the_same_hash_and_text(EventCursor cursor)
    {
        var text = cursor.ToString();
        var parsed = EventCursor.Parse(text);
        return parsed.Equals(cursor) && parsed.GetHashCode() == cursor.GetHashCode() && parsed.ToString() == text
            && EventCursor.TryParse(text, out var tried) && tried.Equals(cursor)
            && (text.Length == 0) == cursor.IsStart;
    }

    [Property]
    public bool Text_made_of_digits_colons_and_commas_reads_as_a_cursor_only_if_it_is_that_cursor_s_text(char[] symbols)
    {
        // Each symbol picks one of a small alphabet, so that many of the texts are cursors, or nearly.
        const string Alphabet = "0123:,:,";
        var text = new string([.. symbols.Select(c => Alphabet[c % Alphabet.Length])]);
        return !EventCursor.TryParse(text, out var cursor) || cursor.ToString() == text;
    }

    [Property]
    public bool A_zero_put_before_any_number_of_a_cursor_s_text_makes_text_that_is_refused(EventCursor cursor, int which)
    {
        var text = cursor.ToString();
        var starts = Enumerable.Range(0, text.Length).Where(i => i == 0 || text[i - 1] is ':' or ',').ToList();
        if (starts.Count == 0)
        {
            return true;
        }

        var at = starts[(int)((uint)which % (uint)starts.Count)];
        var padded = text.Insert(at, "0");
        return !EventCursor.TryParse(padded, out _) && Refused(padded);

        static bool Refused(string text)
        {
            try
            {
                EventCursor.Parse(text);
                return false;
            }
            catch (FormatException)
            {
                return true;
            }
        }
    }

    [Property]
    public bool Stripes_lists_each_covered_stripe_once_ascending_and_rebuilds_the_cursor(EventCursor cursor)
    {
        var stripes = cursor.Stripes.ToList();
        return stripes.Select(p => p.Stripe).SequenceEqual(stripes.Select(p => p.Stripe).Distinct().Order())
            && stripes.All(p => p.Sequence > 0 && cursor[p.Stripe] == p.Sequence)
            && Enumerable.Range(0, EventCursor.MaxStripes).All(s => cursor[s] == (stripes.FirstOrDefault(p => p.Stripe == s) is { Sequence: > 0 } p ? p.Sequence : 0))
            && stripes.Aggregate(EventCursor.Start, (c, p) => c.Through(p)).Equals(cursor);
    }

    [Property]
    public bool Through_covers_the_position_and_what_came_before_in_its_stripe_keeps_what_was_covered_and_covers_nothing_else(EventCursor cursor, EventPosition position)
    {
        var moved = cursor.Through(position);
        return moved.Covers(position)
            && (!cursor.Covers(position) || ReferenceEquals(moved, cursor))
            && moved.Through(position).Equals(moved)
            && Probes(cursor, moved).Append(position).All(q =>
                moved.Covers(q) == (cursor.Covers(q) || (q.Stripe == position.Stripe && q.Sequence <= position.Sequence)));
    }

    [Property]
    public bool A_cursor_only_moves_on(EventCursor cursor, EventPosition[] positions)
    {
        var current = cursor;
        foreach (var position in positions)
        {
            var next = current.Through(position);
            if (Enumerable.Range(0, EventCursor.MaxStripes).Any(s => next[s] < current[s]))
            {
                return false;
            }

            current = next;
        }

        return true;
    }

    [Property]
    public bool The_same_positions_passed_in_any_order_give_equal_cursors_with_equal_hashes_and_text(EventPosition[] positions, int seed)
    {
        var forward = positions.Aggregate(EventCursor.Start, (c, p) => c.Through(p));
        var shuffled = positions.ToArray();
        new Random(seed).Shuffle(shuffled);
        var other = shuffled.Aggregate(EventCursor.Start, (c, p) => c.Through(p));
        return forward.Equals(other) && forward.GetHashCode() == other.GetHashCode() && forward.ToString() == other.ToString();
    }

    [Property]
    public bool Union_covers_what_either_covers_and_Intersect_what_both_cover(EventCursor a, EventCursor b)
    {
        var union = a.Union(b);
        var intersection = a.Intersect(b);
        return Probes(a, b).All(q => union.Covers(q) == (a.Covers(q) || b.Covers(q)) && intersection.Covers(q) == (a.Covers(q) && b.Covers(q)))
            && union.Equals(b.Union(a)) && intersection.Equals(b.Intersect(a))
            && a.Union(a).Equals(a) && a.Intersect(a).Equals(a)
            && a.Union(EventCursor.Start).Equals(a) && a.Intersect(EventCursor.Start).Equals(EventCursor.Start)
            && union.Intersect(a).Equals(a) && intersection.Union(a).Equals(a);
    }

    [Property]
    public bool Cursors_are_equal_exactly_when_they_cover_the_same_events(EventCursor a, EventCursor b)
    {
        var same = Enumerable.Range(0, EventCursor.MaxStripes).All(s => a[s] == b[s]);

        // The intersection and union trim what they build, so equal coverage is equality however a cursor was made.
        var rebuilt = a.Union(b).Intersect(a);
        return a.Equals(b) == same && (!same || a.GetHashCode() == b.GetHashCode())
            && rebuilt.Equals(a) && rebuilt.GetHashCode() == a.GetHashCode() && rebuilt.ToString() == a.ToString();
    }

    [Property]
    public bool A_stream_lands_in_one_stripe_within_the_count(bool product, long id, int count)
    {
        var stripeCount = 1 + (int)((uint)count % EventCursor.MaxStripes);
        var stream = product ? EventStream.ForProduct(new ProductId(id)) : EventStream.ForUser(new UserId(id));
        var stripe = stream.StripeOf(stripeCount);
        return stripe >= 0 && stripe < stripeCount && stripe == new EventStream(stream.Kind, stream.Id).StripeOf(stripeCount);
    }

    [Property]
    public bool A_stream_lands_where_the_documented_hash_puts_it_for_every_stripe_count(bool product, long id, int count, byte power)
    {
        // Every count, and every power of two (the stores' counts, which take the division-free path) as often.
        var stripeCount = power % 2 == 0 ? 1 << (power / 2 % 11) : 1 + (int)((uint)count % EventCursor.MaxStripes);
        var stream = product ? EventStream.ForProduct(new ProductId(id)) : EventStream.ForUser(new UserId(id));
        return stream.StripeOf(stripeCount) == ReferenceStripe(stream, stripeCount);
    }

    [Fact]
    public void A_stream_keeps_its_stripe_across_releases()
    {
        // Where stripes are kept (a PostgreSQL database), a stream must land where earlier releases put it.
        Assert.Equal(
            [1, 21, 3, 37, 540],
            [
                EventStream.ForUser(new UserId(1)).StripeOf(64),
                EventStream.ForUser(new UserId(42)).StripeOf(64),
                EventStream.ForProduct(new ProductId(42)).StripeOf(64),
                EventStream.ForUser(new UserId(42)).StripeOf(48),
                EventStream.ForProduct(new ProductId(7)).StripeOf(1024),
            ]);
    }

    /// <summary>The stripe as documented: splitmix64's finalizer of the id salted by the kind, modulo the count.</summary>
    private static int ReferenceStripe(EventStream stream, int stripeCount)
    {
        var x = unchecked((ulong)stream.Id + ((ulong)stream.Kind * 0x9E3779B97F4A7C15UL));
        x = unchecked((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9UL);
        x = unchecked((x ^ (x >> 27)) * 0x94D049BB133111EBUL);
        x ^= x >> 31;
        return (int)(x % (ulong)stripeCount);
    }
}

/// <summary>
/// Cursors and positions over a few stripes (so that two cursors share stripes), sometimes at the last
/// stripe and at the largest number.
/// </summary>
public static class CursorGenerators
{
    private static Gen<int> Stripe { get; } = Gen.Frequency(
        (8, Gen.Choose(0, 6)),
        (1, Gen.Choose(60, 70)),
        (1, Gen.Constant(Commerce.Events.EventCursor.MaxStripes - 1)));

    private static Gen<long> Sequence { get; } = Gen.Frequency(
        (8, Gen.Choose(1, 6).Select(n => (long)n)),
        (1, Gen.Choose(0, 3).Select(n => long.MaxValue - n)));

    public static Arbitrary<EventPosition> Positions() =>
        Stripe.SelectMany(_ => Sequence, (stripe, sequence) => new EventPosition(stripe, sequence)).ToArbitrary();

    /// <summary>A cursor moved through up to six positions from the start.</summary>
    public static Arbitrary<EventCursor> Cursors() =>
        Positions().Generator.ArrayOf().Resize(6).Select(positions => positions.Aggregate(EventCursor.Start, (c, p) => c.Through(p))).ToArbitrary();
}
