namespace Commerce.Events;

/// <summary>A page of the event feed: the events read and the cursor to read the next page after.</summary>
/// <param name="Events">The events, each stream's in commit order (see <see cref="ICommerceEventFeed.ReadAsync"/>).</param>
/// <param name="Next">The cursor covering everything the page read, and everything before it.</param>
public sealed record EventPage(IReadOnlyList<CommerceEvent> Events, EventCursor Next);
