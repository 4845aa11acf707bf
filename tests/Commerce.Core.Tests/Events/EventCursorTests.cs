using Commerce.Events;

namespace Commerce.Tests.Events;

/// <summary>The cursor's value semantics: parsing, covering, the intersection, equality and hashing.</summary>
public sealed class EventCursorTests
{
    [Fact]
    public void Text_that_is_not_a_cursor_is_refused_by_Parse_with_FormatException_and_by_TryParse_with_false()
    {
        var error = Assert.Throws<FormatException>(() => EventCursor.Parse("5:1,3:2"));
        Assert.Contains("'5:1,3:2' is not an event cursor", error.Message, StringComparison.Ordinal);

        // A long text is quoted by its first 64 characters only.
        var text = new string('x', 100);
        Assert.Contains($"'{text[..64]}…'", Assert.Throws<FormatException>(() => EventCursor.Parse(text)).Message, StringComparison.Ordinal);

        Assert.False(EventCursor.TryParse(null, out var none));
        Assert.Null(none);
        Assert.Equal("text", Assert.Throws<ArgumentNullException>(() => EventCursor.Parse(null!)).ParamName);
    }

    [Theory]
    [InlineData("03:5")]
    [InlineData("3:05")]
    [InlineData("00:1")]
    [InlineData("0:01")]
    [InlineData("0:1,03:2")]
    [InlineData("3:5,17:0002")]
    [InlineData("0000000000000000000003:5")]
    public void A_number_written_with_leading_zeros_is_refused_so_that_a_cursor_has_one_text(string text)
    {
        // A cursor is an opaque token that hosts store and compare as text: "3:05" would be "3:5" under another text.
        Assert.Throws<FormatException>(() => EventCursor.Parse(text));
        Assert.False(EventCursor.TryParse(text, out var cursor));
        Assert.Null(cursor);
    }

    [Theory]
    [InlineData("+3:5")]
    [InlineData("3:+5")]
    [InlineData("-0:5")]
    [InlineData(" 3:5")]
    [InlineData("3:5 ")]
    [InlineData("3: 5")]
    [InlineData("3:5,")]
    [InlineData(",3:5")]
    [InlineData("3:5,,4:1")]
    [InlineData("3:5;4:1")]
    [InlineData("3:1_000")]
    [InlineData("3:1,000")]
    [InlineData("0x3:5")]
    [InlineData("3:5e0")]
    [InlineData("3.0:5")]
    [InlineData("\u0663:5")] // an Arabic-Indic three
    [InlineData("\uFF13:5")] // a full-width three
    [InlineData("3:0")]
    [InlineData("3:5,3:6")]
    [InlineData("1024:1")]
    [InlineData("0:9223372036854775808")]
    public void Other_text_that_is_not_the_text_of_a_cursor_is_refused(string text)
    {
        Assert.Throws<FormatException>(() => EventCursor.Parse(text));
        Assert.False(EventCursor.TryParse(text, out _));
    }

    [Theory]
    [InlineData("")]
    [InlineData("0:1")]
    [InlineData("3:5,17:2")]
    [InlineData("10:100")]
    [InlineData("1023:9223372036854775807")]
    public void The_text_of_a_cursor_reads_back_to_a_cursor_with_that_text(string text) =>
        Assert.Equal(text, EventCursor.Parse(text).ToString());

    [Fact]
    public void Through_a_position_the_cursor_covers_already_returns_the_same_cursor()
    {
        var cursor = EventCursor.Start.Through(new EventPosition(2, 5));

        Assert.Same(cursor, cursor.Through(new EventPosition(2, 5)));
        Assert.Same(cursor, cursor.Through(new EventPosition(2, 1)));
        Assert.NotSame(cursor, cursor.Through(new EventPosition(2, 6)));
    }

    [Fact]
    public void An_intersection_drops_the_stripes_it_leaves_at_zero_so_it_equals_and_hashes_as_the_cursor_it_names()
    {
        var wide = EventCursor.Start.Through(new EventPosition(0, 5)).Through(new EventPosition(3, 2));
        var narrow = EventCursor.Start.Through(new EventPosition(0, 4));

        var both = wide.Intersect(narrow);

        Assert.Equal("0:4", both.ToString());
        Assert.Equal(narrow, both);
        Assert.Equal(narrow.GetHashCode(), both.GetHashCode());
        Assert.Equal(EventCursor.Start, wide.Intersect(EventCursor.Start));
        Assert.Equal(EventCursor.Start.GetHashCode(), wide.Intersect(EventCursor.Start).GetHashCode());
    }

    [Fact]
    public void An_intersection_whose_last_stripes_meet_at_zero_drops_them_and_equals_the_shorter_cursor()
    {
        var a = EventCursor.Parse("0:5,1:3");
        var b = EventCursor.Parse("0:4,2:7");

        var both = a.Intersect(b);

        Assert.Equal("0:4", both.ToString());
        Assert.Equal(EventCursor.Parse("0:4"), both);
        Assert.Equal(EventCursor.Parse("0:4").GetHashCode(), both.GetHashCode());
        Assert.Equal(both, b.Intersect(a));
    }

    [Fact]
    public void Equal_cursors_find_each_other_as_keys_and_different_ones_do_not()
    {
        var parsed = EventCursor.Parse("1:3,4:7");
        var built = EventCursor.Start.Through(new EventPosition(4, 7)).Through(new EventPosition(1, 3));
        var saved = new Dictionary<EventCursor, string> { [parsed] = "checkpoint" };

        Assert.Equal("checkpoint", saved[built]);
        Assert.False(saved.ContainsKey(built.Through(new EventPosition(4, 8))));
        Assert.False(saved.ContainsKey(EventCursor.Start));
    }

    [Fact]
    public void The_equality_operators_compare_cursors_by_value_as_Equals_does()
    {
        var parsed = EventCursor.Parse("1:3,4:7");
        var built = EventCursor.Start.Through(new EventPosition(4, 7)).Through(new EventPosition(1, 3));
        EventCursor? none = null;

        Assert.True(parsed == built, "two equal cursors made apart are == (the saved checkpoint read back equals the one saved)");
        Assert.False(parsed != built);
        Assert.True(EventCursor.Parse(parsed.ToString()) == parsed);
        Assert.True(EventCursor.Parse("") == EventCursor.Start);
        Assert.True(parsed != built.Through(new EventPosition(4, 8)));
        Assert.False(parsed == built.Through(new EventPosition(4, 8)));
        Assert.True(parsed != none);
        Assert.True(none != parsed);
        Assert.False(parsed == none);
        Assert.True(none == null);
    }

    [Fact]
    public void A_position_outside_the_stripes_is_refused_by_Covers_naming_the_position()
    {
        var cursor = EventCursor.Start.Through(new EventPosition(3, 5));
        Assert.Equal("position", Assert.Throws<ArgumentOutOfRangeException>(() => cursor.Covers(new EventPosition(-1, 1))).ParamName);
        Assert.Equal("stripe", Assert.Throws<ArgumentOutOfRangeException>(() => cursor[-1]).ParamName);
        Assert.True(cursor.Covers(new EventPosition(3, 5)));
        Assert.False(cursor.Covers(new EventPosition(3, 6)));
        Assert.False(cursor.Covers(new EventPosition(EventCursor.MaxStripes, 1)));
    }

    [Fact]
    public void A_null_cursor_is_refused_by_Union_and_Intersect_naming_it()
    {
        var cursor = EventCursor.Start.Through(new EventPosition(3, 5));
        Assert.Equal("other", Assert.Throws<ArgumentNullException>(() => cursor.Union(null!)).ParamName);
        Assert.Equal("other", Assert.Throws<ArgumentNullException>(() => cursor.Intersect(null!)).ParamName);
    }
}
