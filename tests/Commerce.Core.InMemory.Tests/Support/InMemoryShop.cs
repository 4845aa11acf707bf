using Commerce.Conformance;
using Commerce.Storage;
using Microsoft.Extensions.DependencyInjection;

namespace Commerce.InMemory.Tests.Support;

/// <summary>The conformance suite's <see cref="Shop"/> on a fresh in-memory store, with the store at hand for its test seams.</summary>
internal static class InMemoryShop
{
    /// <summary>A shop on a new in-memory store, optionally wrapped (<see cref="WrappedStore"/>).</summary>
    public static Shop Create(Action<CommerceOptions>? configure = null, Func<InMemoryCommerceStore, ICommerceStore>? wrap = null)
    {
        // Registered as the instance, so that tests reach it (and its seams) even under a wrapper.
        var store = new InMemoryCommerceStore();
        return new Shop(
            b => b.Services.AddSingleton(store).AddSingleton<ICommerceStore>(store).AddSingleton<IEventStore>(store),
            configure,
            wrapStore: wrap is null ? null : _ => wrap(store));
    }

    /// <summary>The in-memory store under a shop made by <see cref="Create"/>, under its wrapper if any.</summary>
    public static InMemoryCommerceStore InMemoryStore(this Shop shop) => shop.Services.GetRequiredService<InMemoryCommerceStore>();
}
