using Commerce.InMemory;
using Commerce.Storage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Commerce;

/// <summary>Selects the in-memory store.</summary>
public static class InMemoryCommerceBuilderExtensions
{
    /// <summary>
    /// Keeps all state in this process's memory, in a lock-free store: every use case commits with a
    /// multi-word compare-and-swap, so concurrent operations never block each other, orders, charges and
    /// restocks on different wallets and products never contend on a record (adding products shares the listing;
    /// with events on, two streams may share one of the 64 event stripes, whose cell orders their commits without
    /// running either use case again), and every operation is atomic and linearizable.
    /// State lives as long as the service provider; disposing the provider disposes the store, which ends the
    /// waits for events under way and refuses later calls with <see cref="ObjectDisposedException"/>. The store keeps the events use cases publish (see
    /// <see cref="Events.ICommerceEventFeed"/>) in 64 stripes, with the consumers' checkpoints, in memory
    /// too. A second call is harmless. An <see cref="ICommerceStore"/> the host registered before is kept,
    /// and the event feed then reads that store (it must be an <see cref="IEventStore"/> too, or the host
    /// registers one). One registered after replaces this one; the feed reads it if it is an
    /// <see cref="IEventStore"/>, and this store otherwise (as when it decorates this one).
    /// </summary>
    /// <param name="builder">The builder <c>AddCommerce</c> returned.</param>
    /// <returns>The same builder.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="builder"/> is <see langword="null"/>.</exception>
    /// <exception cref="InvalidOperationException">Another store's method (<c>UsePostgresStore</c>) was called on these services.</exception>
    public static ICommerceBuilder UseInMemoryStore(this ICommerceBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        if (builder.Services.Any(d => d.ServiceType.FullName == "Commerce.Postgres.PostgresCommerceStore"))
        {
            throw new InvalidOperationException(
                "UsePostgresStore was called on these services already: one Commerce store serves them, so call one store method.");
        }

        var hostStore = builder.Services.Any(d => d.ServiceType == typeof(ICommerceStore) && !d.IsKeyedService);
        builder.Services.TryAddSingleton(_ => new InMemoryCommerceStore());
        builder.Services.TryAddSingleton<ICommerceStore>(sp => sp.GetRequiredService<InMemoryCommerceStore>());
        // The feed reads the store that serves the services: this one, or one the host registered before or after.
        // One registered after that keeps no events is taken for a decorator of this one (which keeps them).
        builder.Services.TryAddSingleton<IEventStore>(sp => sp.GetRequiredService<ICommerceStore>() switch
        {
            IEventStore events => events,
            _ when hostStore => throw new InvalidOperationException(
                "The ICommerceStore registered before UseInMemoryStore serves the services but keeps no events (it is no IEventStore): register the IEventStore that reads its events."),
            _ => sp.GetRequiredService<InMemoryCommerceStore>(),
        });
        return builder;
    }
}
