using Commerce.Events;
using Commerce.Storage;
using Microsoft.Extensions.DependencyInjection;

namespace Commerce.Postgres.Tests;

/// <summary>
/// A store the host registers itself beside <c>UsePostgresStore</c>: the event feed reads the store that serves the
/// services, as with the in-memory store. No server is needed: nothing connects.
/// </summary>
public sealed class StoreRegistrationTests
{
    private const string ConnectionString = "Host=localhost;Username=postgres";

    [Fact]
    public void A_store_the_host_registered_first_serves_the_services_and_the_feed_reads_it()
    {
        var mine = new EventKeepingStore();
        var services = new ServiceCollection();
        services.AddSingleton<ICommerceStore>(mine);
        services.AddCommerce().UsePostgresStore(ConnectionString);
        using var provider = services.BuildServiceProvider();

        Assert.Same(mine, provider.GetRequiredService<ICommerceStore>());
        Assert.Same(mine, provider.GetRequiredService<IEventStore>());
    }

    [Fact]
    public void A_store_the_host_registered_first_that_keeps_no_events_is_named_when_the_feed_needs_one()
    {
        var services = new ServiceCollection();
        services.AddSingleton<ICommerceStore>(new NoEventsStore());
        services.AddCommerce().UsePostgresStore(ConnectionString);
        using var provider = services.BuildServiceProvider();

        var refused = Assert.Throws<InvalidOperationException>(() => provider.GetRequiredService<IEventStore>());
        Assert.Contains("registered before UsePostgresStore serves the services but keeps no events", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_decorator_registered_after_serves_the_services_and_the_feed_reads_this_stores_events()
    {
        var services = new ServiceCollection();
        services.AddCommerce().UsePostgresStore(ConnectionString);
        services.AddSingleton<ICommerceStore>(sp => new Decorator(sp.GetRequiredService<PostgresCommerceStore>()));
        using var provider = services.BuildServiceProvider();

        Assert.IsType<Decorator>(provider.GetRequiredService<ICommerceStore>());
        Assert.IsType<PostgresEventStore>(provider.GetRequiredService<IEventStore>());
    }

    private sealed class EventKeepingStore : ICommerceStore, IEventStore
    {
        public int StripeCount => 1;

        public ValueTask<IStoreSession> OpenSessionAsync(CancellationToken cancellationToken = default) => throw Unused();

        public ValueTask<EventPage> ReadEventsAsync(EventCursor after, int limit, CancellationToken cancellationToken = default) => throw Unused();

        public ValueTask WaitForEventsAsync(EventCursor after, CancellationToken cancellationToken = default) => throw Unused();

        public ValueTask<EventCursor?> LoadCheckpointAsync(string consumer, CancellationToken cancellationToken = default) => throw Unused();

        public ValueTask SaveCheckpointAsync(string consumer, EventCursor cursor, CancellationToken cancellationToken = default) => throw Unused();

        public ValueTask<long> PurgeEventsAsync(DateTimeOffset before, EventCursor upTo, CancellationToken cancellationToken = default) => throw Unused();

        private static NotSupportedException Unused() => new("Never called: the tests only resolve services.");
    }

    private sealed class NoEventsStore : ICommerceStore
    {
        public ValueTask<IStoreSession> OpenSessionAsync(CancellationToken cancellationToken = default) =>
            throw new NotSupportedException("Never opened: the tests only resolve services.");
    }

    private sealed class Decorator(ICommerceStore inner) : ICommerceStore
    {
        public ValueTask<IStoreSession> OpenSessionAsync(CancellationToken cancellationToken = default) => inner.OpenSessionAsync(cancellationToken);
    }
}
