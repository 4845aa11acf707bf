using Commerce.Storage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace Commerce.InMemory.Tests.Support;

/// <summary>The library on the in-memory store (or a store wrapped around it) with a fake clock.</summary>
internal sealed class Shop : IDisposable
{
    public static readonly DateTimeOffset Start = new(2026, 11, 24, 12, 0, 0, TimeSpan.Zero);

    private readonly ServiceProvider _provider;

    public Shop(Action<CommerceOptions>? configure = null, Func<InMemoryCommerceStore, ICommerceStore>? wrap = null)
    {
        Time = new FakeTimeProvider(Start);
        var services = new ServiceCollection();
        services.AddSingleton<TimeProvider>(Time);
        var builder = services.AddCommerce(configure);
        Options = (CommerceOptions)services.First(d => d.ServiceType == typeof(CommerceOptions)).ImplementationInstance!;
        Store = new InMemoryCommerceStore();
        services.AddSingleton(wrap is null ? Store : wrap(Store));
        builder.UseInMemoryStore();
        _provider = services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true, ValidateScopes = true });
    }

    public FakeTimeProvider Time { get; }

    public CommerceOptions Options { get; }

    public InMemoryCommerceStore Store { get; }

    public IWalletService Wallets => _provider.GetRequiredService<IWalletService>();

    public ICatalogService Catalog => _provider.GetRequiredService<ICatalogService>();

    public IOrderService Orders => _provider.GetRequiredService<IOrderService>();

    public ISalesRankingService Ranking => _provider.GetRequiredService<ISalesRankingService>();

    public ICartService Carts => _provider.GetRequiredService<ICartService>();

    public void Dispose() => _provider.Dispose();
}

/// <summary>Runs the services' value tasks to completion on the calling thread (the in-memory store never really waits).</summary>
internal static class Sync
{
    public static T Run<T>(ValueTask<T> task) => task.IsCompletedSuccessfully ? task.Result : task.AsTask().GetAwaiter().GetResult();
}
