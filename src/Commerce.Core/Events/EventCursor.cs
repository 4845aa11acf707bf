using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Text;
using System.Text.Json.Serialization;

namespace Commerce.Events;

/// <summary>
/// How far a reader of the event feed has got: for each stripe, the number of the last event read there
/// (0: none). Reading after a cursor returns every event not yet covered, so a consumer that saves its
/// cursor and restarts from it sees no gap and nothing twice.
/// </summary>
/// <remarks>
/// Immutable, with value equality (<see cref="Equals(EventCursor)"/>, <c>==</c> and <c>!=</c>). Its text form (<see cref="ToString"/>, <see cref="Parse"/>) is
/// <c>stripe:sequence</c> pairs for the stripes read, ascending, separated by commas (<c>3:5,17:2</c>);
/// the start is the empty string. It is what to save as a checkpoint or pass as <c>?after=</c>, and what
/// System.Text.Json writes and reads (a JSON string, through <see cref="EventCursorJsonConverter"/>).
/// <see cref="Parse"/> and <see cref="TryParse"/> accept only that form, with each number in ASCII decimal digits
/// without a sign, white space or a leading zero: a cursor has one text, the one <see cref="ToString"/> gives back, so
/// two texts name the same cursor only if they are equal, ordinally.
/// </remarks>
[JsonConverter(typeof(EventCursorJsonConverter))]
public sealed class EventCursor : IEquatable<EventCursor>
{
    /// <summary>The most stripes a store may have.</summary>
    public const int MaxStripes = 1024;

    private readonly long[] _sequences; // Trailing zeros trimmed, so that equal cursors have equal arrays.

    private EventCursor(long[] sequences) => _sequences = sequences;

    /// <summary>The cursor before every event.</summary>
    public static EventCursor Start { get; } = new([]);

    /// <summary>Whether no event is covered.</summary>
    public bool IsStart => _sequences.Length == 0;

    /// <summary>The number of the last event covered in a stripe (0: none).</summary>
    /// <param name="stripe">The stripe, from 0.</param>
    /// <returns>The sequence number.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="stripe"/> is negative.</exception>
    public long this[int stripe]
    {
        get
        {
            ArgumentOutOfRangeException.ThrowIfNegative(stripe);
            return stripe < _sequences.Length ? _sequences[stripe] : 0;
        }
    }

    /// <summary>The number of stripes up to the last one with events covered (0 for <see cref="Start"/>).</summary>
    internal int StripeSpan => _sequences.Length;

    /// <summary>The stripes with events covered, with the last covered in each, ascending.</summary>
    public IEnumerable<EventPosition> Stripes
    {
        get
        {
            for (var i = 0; i < _sequences.Length; i++)
            {
                if (_sequences[i] > 0)
                {
                    yield return new EventPosition(i, _sequences[i]);
                }
            }
        }
    }

    /// <summary>Whether the event at <paramref name="position"/> is covered (read already).</summary>
    /// <param name="position">The event's position.</param>
    /// <returns><see langword="true"/> if its sequence is at or below this cursor's for its stripe.</returns>
    /// <exception cref="ArgumentOutOfRangeException">The position's stripe is negative.</exception>
    public bool Covers(EventPosition position)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(position.Stripe, nameof(position));
        return position.Sequence <= this[position.Stripe];
    }

    /// <summary>This cursor moved on to cover <paramref name="position"/> (and everything before it in its stripe).</summary>
    /// <param name="position">An event's position.</param>
    /// <returns>A cursor; this one if it covers the position already.</returns>
    /// <exception cref="ArgumentOutOfRangeException">The stripe is outside [0, <see cref="MaxStripes"/>) or the sequence is not positive.</exception>
    public EventCursor Through(EventPosition position)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(position.Stripe, nameof(position));
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(position.Stripe, MaxStripes, nameof(position));
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(position.Sequence, nameof(position));
        if (Covers(position))
        {
            return this;
        }

        var sequences = new long[Math.Max(_sequences.Length, position.Stripe + 1)];
        _sequences.CopyTo(sequences, 0);
        sequences[position.Stripe] = position.Sequence;
        return new EventCursor(sequences);
    }

    /// <summary>The cursor covering what either covers: for each stripe, the further of the two.</summary>
    /// <param name="other">The other cursor.</param>
    /// <returns>The union.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="other"/> is <see langword="null"/>.</exception>
    public EventCursor Union(EventCursor other)
    {
        ArgumentNullException.ThrowIfNull(other);
        var sequences = new long[Math.Max(_sequences.Length, other._sequences.Length)];
        for (var i = 0; i < sequences.Length; i++)
        {
            sequences[i] = Math.Max(this[i], other[i]);
        }

        return new EventCursor(sequences);
    }

    /// <summary>The cursor covering what both cover: for each stripe, the nearer of the two.</summary>
    /// <param name="other">The other cursor.</param>
    /// <returns>The intersection.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="other"/> is <see langword="null"/>.</exception>
    public EventCursor Intersect(EventCursor other)
    {
        ArgumentNullException.ThrowIfNull(other);
        var sequences = new long[Math.Min(_sequences.Length, other._sequences.Length)];
        for (var i = 0; i < sequences.Length; i++)
        {
            sequences[i] = Math.Min(_sequences[i], other._sequences[i]);
        }

        return new EventCursor(Trim(sequences));
    }

    /// <summary>What the text of a cursor is, for the messages that refuse another text.</summary>
    internal const string Expected = "expected stripe:sequence pairs, ascending by stripe, separated by commas, each number in decimal without a leading zero.";

    /// <summary>Reads a cursor from its text form (see the remarks).</summary>
    /// <param name="text">The text; empty for the start.</param>
    /// <returns>The cursor.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="text"/> is null.</exception>
    /// <exception cref="FormatException">The text is not a cursor.</exception>
    public static EventCursor Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return TryParse(text, out var cursor)
            ? cursor
            : throw new FormatException($"'{(text.Length > 64 ? text[..64] + "…" : text)}' is not an event cursor: {Expected}");
    }

    /// <summary>Reads a cursor from its text form (see the remarks), if it is one.</summary>
    /// <param name="text">The text; empty for the start.</param>
    /// <param name="cursor">The cursor, if the text is one.</param>
    /// <returns>Whether it was: <see langword="false"/> for any other text, one whose numbers have leading zeros too.</returns>
    public static bool TryParse([NotNullWhen(true)] string? text, [NotNullWhen(true)] out EventCursor? cursor)
    {
        cursor = null;
        if (text is null)
        {
            return false;
        }

        if (text.Length == 0)
        {
            cursor = Start;
            return true;
        }

        var sequences = new List<long>();
        var previous = -1;
        foreach (var range in text.AsSpan().Split(','))
        {
            var pair = text.AsSpan(range);
            var colon = pair.IndexOf(':');
            if (colon <= 0
                || !IsWithoutLeadingZero(pair[..colon]) || !IsWithoutLeadingZero(pair[(colon + 1)..])
                || !int.TryParse(pair[..colon], NumberStyles.None, CultureInfo.InvariantCulture, out var stripe)
                || !long.TryParse(pair[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var sequence)
                || stripe <= previous || stripe >= MaxStripes || sequence <= 0)
            {
                return false;
            }

            while (sequences.Count < stripe)
            {
                sequences.Add(0);
            }

            sequences.Add(sequence);
            previous = stripe;
        }

        cursor = new EventCursor([.. sequences]);
        return true;
    }

    /// <summary>The text form (see the remarks): empty for the start.</summary>
    /// <returns>The text.</returns>
    public override string ToString()
    {
        var text = new StringBuilder();
        for (var i = 0; i < _sequences.Length; i++)
        {
            if (_sequences[i] > 0)
            {
                if (text.Length > 0)
                {
                    text.Append(',');
                }

                text.Append(CultureInfo.InvariantCulture, $"{i}:{_sequences[i]}");
            }
        }

        return text.ToString();
    }

    /// <summary>Whether two cursors cover the same events (see <see cref="Equals(EventCursor)"/>).</summary>
    /// <param name="left">A cursor, or <see langword="null"/>.</param>
    /// <param name="right">A cursor, or <see langword="null"/>.</param>
    /// <returns>Whether both are <see langword="null"/> or they are equal.</returns>
    public static bool operator ==(EventCursor? left, EventCursor? right) => left is null ? right is null : left.Equals(right);

    /// <summary>Whether two cursors differ (see <see cref="Equals(EventCursor)"/>).</summary>
    /// <param name="left">A cursor, or <see langword="null"/>.</param>
    /// <param name="right">A cursor, or <see langword="null"/>.</param>
    /// <returns>Whether they are not equal.</returns>
    public static bool operator !=(EventCursor? left, EventCursor? right) => !(left == right);

    /// <inheritdoc />
    public bool Equals(EventCursor? other) => other is not null && _sequences.AsSpan().SequenceEqual(other._sequences);

    /// <inheritdoc />
    public override bool Equals(object? obj) => Equals(obj as EventCursor);

    /// <inheritdoc />
    public override int GetHashCode()
    {
        var hash = default(HashCode);
        foreach (var sequence in _sequences)
        {
            hash.Add(sequence);
        }

        return hash.ToHashCode();
    }

    /// <summary>
    /// Whether a number's text has no leading zero ("0" itself is the number zero): with one, the cursor would have
    /// another text than the one <see cref="ToString"/> writes.
    /// </summary>
    private static bool IsWithoutLeadingZero(ReadOnlySpan<char> digits) => digits.Length <= 1 || digits[0] != '0';

    private static long[] Trim(long[] sequences)
    {
        var length = sequences.Length;
        while (length > 0 && sequences[length - 1] == 0)
        {
            length--;
        }

        return length == sequences.Length ? sequences : sequences[..length];
    }
}
