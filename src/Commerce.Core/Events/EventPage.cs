using System.Text;

namespace Commerce.Events;

/// <summary>A page of the event feed: the events read and the cursor to read the next page after.</summary>
/// <param name="Events">The events, each stream's in commit order (see <see cref="ICommerceEventFeed.ReadAsync"/>).</param>
/// <param name="Next">The cursor covering everything the page read, and everything before it.</param>
public sealed record EventPage(IReadOnlyList<CommerceEvent> Events, EventCursor Next)
{
    /// <inheritdoc />
    /// <remarks>Compares the events one by one, as a value (a record compares lists by reference), so that the same page read twice is equal.</remarks>
    public bool Equals(EventPage? other) =>
        other is not null && Equals(Next, other.Next) && RecordText.SameItems(Events, other.Events);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(Next, Events?.Count ?? 0);

    // Prints each event, not the list's type.
    private bool PrintMembers(StringBuilder builder)
    {
        builder.AppendItems(nameof(Events), Events).Append(", Next = ").Append(Next?.ToString());
        return true;
    }
}
