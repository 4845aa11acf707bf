using System.Reflection;
using Commerce.Conformance;
using Commerce.Events;
using Commerce.InMemory.Tests.Support;
using Commerce.Storage;
using Microsoft.Extensions.DependencyInjection;

namespace Commerce.InMemory.Tests;

/// <summary>The in-memory store's public surface: the same shape rules as the core's, and its one entry point.</summary>
public sealed class PublicApiTests
{
    private static readonly Assembly InMemory = typeof(InMemoryCommerceBuilderExtensions).Assembly;

    [Fact]
    public void Every_public_class_is_sealed_or_static() => Assert.Empty(PublicSurface.OpenClasses(InMemory));

    [Fact]
    public void Public_types_expose_no_setters_or_writable_fields() => Assert.Empty(PublicSurface.MutableMembers(InMemory));

    [Fact]
    public void Public_structs_are_readonly() => Assert.Empty(PublicSurface.MutableStructs(InMemory));

    [Fact]
    public void UseInMemoryStore_on_a_null_builder_throws_ArgumentNullException() =>
        Assert.Equal("builder", Assert.Throws<ArgumentNullException>(() => InMemoryCommerceBuilderExtensions.UseInMemoryStore(null!)).ParamName);

    [Fact]
    public void A_second_UseInMemoryStore_registers_no_second_store()
    {
        var services = new ServiceCollection();
        services.AddCommerce().UseInMemoryStore().UseInMemoryStore();
        using var provider = services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true, ValidateScopes = true });

        Assert.Single(services, d => d.ServiceType == typeof(ICommerceStore));
        Assert.IsType<InMemoryCommerceStore>(provider.GetRequiredService<ICommerceStore>());
    }

    [Fact]
    public void UseInMemoryStore_keeps_a_store_the_host_registered_first()
    {
        var mine = new InMemoryCommerceStore();
        var services = new ServiceCollection();
        services.AddSingleton<ICommerceStore>(mine);
        services.AddCommerce().UseInMemoryStore();
        using var provider = services.BuildServiceProvider();

        Assert.Same(mine, provider.GetRequiredService<ICommerceStore>());
    }

    [Fact]
    public async Task The_event_feed_reads_the_store_the_host_registered_first()
    {
        var mine = new InMemoryCommerceStore();
        var services = new ServiceCollection();
        services.AddSingleton<ICommerceStore>(mine);
        services.AddCommerce().UseInMemoryStore();
        using var provider = services.BuildServiceProvider();

        Assert.True((await provider.GetRequiredService<IWalletService>().ChargeAsync(new UserId(1), new Money(5))).IsSuccess);

        Assert.Same(mine, provider.GetRequiredService<IEventStore>());
        Assert.IsType<WalletCharged>(Assert.Single((await provider.GetRequiredService<ICommerceEventFeed>().ReadAsync(EventCursor.Start)).Events));
    }

    [Fact]
    public async Task The_event_feed_reads_the_store_the_host_registered_after()
    {
        var mine = new InMemoryCommerceStore();
        var services = new ServiceCollection();
        services.AddCommerce().UseInMemoryStore();
        services.AddSingleton<ICommerceStore>(mine);
        using var provider = services.BuildServiceProvider();

        Assert.True((await provider.GetRequiredService<IWalletService>().ChargeAsync(new UserId(1), new Money(5))).IsSuccess);

        Assert.Same(mine, provider.GetRequiredService<IEventStore>());
        Assert.IsType<WalletCharged>(Assert.Single((await provider.GetRequiredService<ICommerceEventFeed>().ReadAsync(EventCursor.Start)).Events));
    }

    [Fact]
    public async Task The_event_feed_reads_this_store_under_a_decorator_the_host_registered_after()
    {
        var services = new ServiceCollection();
        services.AddCommerce().UseInMemoryStore();
        services.AddSingleton<ICommerceStore>(sp => new Decorator(sp.GetRequiredService<InMemoryCommerceStore>()));
        using var provider = services.BuildServiceProvider();

        Assert.True((await provider.GetRequiredService<IWalletService>().ChargeAsync(new UserId(1), new Money(5))).IsSuccess);

        Assert.IsType<Decorator>(provider.GetRequiredService<ICommerceStore>());
        Assert.Same(provider.GetRequiredService<InMemoryCommerceStore>(), provider.GetRequiredService<IEventStore>());
        Assert.IsType<WalletCharged>(Assert.Single((await provider.GetRequiredService<ICommerceEventFeed>().ReadAsync(EventCursor.Start)).Events));
    }

    [Fact]
    public async Task A_store_the_host_registered_first_that_keeps_no_events_makes_the_feed_say_so()
    {
        var services = new ServiceCollection();
        services.AddSingleton<ICommerceStore>(new WrappedStore(new InMemoryCommerceStore(), Fault.None)); // no IEventStore
        services.AddCommerce().UseInMemoryStore();
        using var provider = services.BuildServiceProvider();

        var error = await Assert.ThrowsAsync<InvalidOperationException>(
            async () => await provider.GetRequiredService<ICommerceEventFeed>().ReadAsync(EventCursor.Start));
        Assert.Contains("IEventStore", error.Message, StringComparison.Ordinal);
    }

    /// <summary>A host's store that hands every call to another (as a logging or metrics decorator would).</summary>
    private sealed class Decorator(ICommerceStore inner) : ICommerceStore
    {
        public ValueTask<IStoreSession> OpenSessionAsync(CancellationToken cancellationToken = default) => inner.OpenSessionAsync(cancellationToken);
    }
}
