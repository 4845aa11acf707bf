using Commerce.Storage;

namespace Commerce.Events;

/// <summary>The event feed over the store's <see cref="IEventStore"/>: checks the arguments, then reads or waits.</summary>
internal sealed class CommerceEventFeed(IServiceProvider services) : ICommerceEventFeed
{
    /// <summary>The most events one page may hold.</summary>
    public const int MaxLimit = 1000;

    private IEventStore? _store;

    private IEventStore Store => _store ??= (IEventStore?)services.GetService(typeof(IEventStore))
        ?? throw new InvalidOperationException(services.GetService(typeof(ICommerceStore)) is null
            // A host that chose no store is told to choose one, as the services tell it, not that its store lacks events.
            ? "No Commerce store is registered, so no events are kept. Call a store method on the builder AddCommerce returns, for example services.AddCommerce().UseInMemoryStore()."
            : "The configured store keeps no events: it registers no IEventStore (the in-memory and PostgreSQL stores do).");

    public ValueTask<EventPage> ReadAsync(EventCursor after, int limit = 100, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(after);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(limit, MaxLimit);
        cancellationToken.ThrowIfCancellationRequested();
        return Store.ReadEventsAsync(after, limit, cancellationToken);
    }

    public ValueTask WaitAsync(EventCursor after, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(after);
        cancellationToken.ThrowIfCancellationRequested();
        return Store.WaitForEventsAsync(after, cancellationToken);
    }
}
