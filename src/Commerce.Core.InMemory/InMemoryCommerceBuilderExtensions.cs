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
    /// multi-word compare-and-swap, so concurrent operations never block each other, operations on
    /// different wallets and products never contend, and every operation is atomic and linearizable.
    /// State lives as long as the service provider. The store keeps the events use cases publish (see
    /// <see cref="Events.ICommerceEventFeed"/>) in 64 stripes, with the consumers' checkpoints, in memory
    /// too. A second call is harmless.
    /// </summary>
    /// <param name="builder">The builder <c>AddCommerce</c> returned.</param>
    /// <returns>The same builder.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="builder"/> is <see langword="null"/>.</exception>
    public static ICommerceBuilder UseInMemoryStore(this ICommerceBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.TryAddSingleton(_ => new InMemoryCommerceStore());
        builder.Services.TryAddSingleton<ICommerceStore>(sp => sp.GetRequiredService<InMemoryCommerceStore>());
        builder.Services.TryAddSingleton<IEventStore>(sp => sp.GetRequiredService<InMemoryCommerceStore>());
        return builder;
    }
}
