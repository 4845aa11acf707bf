using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace Commerce.Tests.Support;

/// <summary>A service provider with the library on the in-memory store and a fake clock.</summary>
internal sealed class Shop : IDisposable
{
    private readonly ServiceProvider _provider;

    public Shop(Action<CommerceOptions>? configure = null, DateTimeOffset? start = null)
    {
        Time = new FakeTimeProvider(start ?? new DateTimeOffset(2026, 11, 24, 12, 0, 0, TimeSpan.Zero));
        var services = new ServiceCollection();
        services.AddSingleton<TimeProvider>(Time);
        services.AddCommerce(configure).UseInMemoryStore();
        _provider = services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true, ValidateScopes = true });
    }

    public FakeTimeProvider Time { get; }

    public IServiceProvider Services => _provider;

    public IWalletService Wallets => _provider.GetRequiredService<IWalletService>();

    public ICatalogService Catalog => _provider.GetRequiredService<ICatalogService>();

    public IOrderService Orders => _provider.GetRequiredService<IOrderService>();

    public ISalesRankingService Ranking => _provider.GetRequiredService<ISalesRankingService>();

    public ICartService Carts => _provider.GetRequiredService<ICartService>();

    public void Dispose() => _provider.Dispose();
}
