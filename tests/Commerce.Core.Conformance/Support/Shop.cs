using System.Globalization;
using System.Text;
using Commerce.Storage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace Commerce.Conformance;

/// <summary>
/// The test projects' one shop: a service provider with the library on a chosen store (optionally
/// wrapped) and a fake clock, plus a few helpers the tests share. Each test builds its own, so tests
/// never see each other's state.
/// </summary>
public sealed class Shop : IDisposable
{
    private readonly ServiceProvider _provider;

    /// <summary>Builds the shop.</summary>
    /// <param name="useStore">Selects the store on the builder <c>AddCommerce</c> returned, for example <c>b => b.UseInMemoryStore()</c>.</param>
    /// <param name="configure">Sets options, as in <c>AddCommerce</c>.</param>
    /// <param name="start">Where the fake clock starts; <see cref="TestClock.Start"/> if null.</param>
    /// <param name="wrapStore">
    /// Wraps the store the services use (for example to inject faults or force interleavings): it gets
    /// the store <paramref name="useStore"/> selected and returns the one the services see.
    /// </param>
    public Shop(Action<ICommerceBuilder> useStore, Action<CommerceOptions>? configure = null, DateTimeOffset? start = null, Func<ICommerceStore, ICommerceStore>? wrapStore = null)
    {
        ArgumentNullException.ThrowIfNull(useStore);
        Time = new FakeTimeProvider(start ?? TestClock.Start);
        var services = new ServiceCollection();
        services.AddSingleton<TimeProvider>(Time);
        useStore(services.AddCommerce(configure));
        if (wrapStore is not null)
        {
            Wrap(services, wrapStore);
        }

        _provider = services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true, ValidateScopes = true });
        Options = _provider.GetRequiredService<CommerceOptions>();
    }

    public FakeTimeProvider Time { get; }

    public IServiceProvider Services => _provider;

    public CommerceOptions Options { get; }

    public IWalletService Wallets => _provider.GetRequiredService<IWalletService>();

    public ICatalogService Catalog => _provider.GetRequiredService<ICatalogService>();

    public IOrderService Orders => _provider.GetRequiredService<IOrderService>();

    public ISalesRankingService Ranking => _provider.GetRequiredService<ISalesRankingService>();

    public ICartService Carts => _provider.GetRequiredService<ICartService>();

    /// <summary>Adds a product and asserts that it was added.</summary>
    public async Task<ProductSummary> AddProductAsync(long id, long price, int stock, string? name = null)
    {
        var added = await Catalog.AddProductAsync(new ProductId(id), name ?? $"Product {id}", new Money(price), stock);
        Assert.True(added.IsSuccess, added.ToString());
        return added.Value;
    }

    /// <summary>Charges a wallet and asserts that it was charged.</summary>
    public async Task ChargeAsync(long user, long amount)
    {
        var charged = await Wallets.ChargeAsync(new UserId(user), new Money(amount));
        Assert.True(charged.IsSuccess, charged.ToString());
    }

    /// <summary>Places an order of (product, quantity) lines for a user.</summary>
    public ValueTask<Result<Order>> OrderAsync(long user, params (long Product, int Quantity)[] lines) =>
        Orders.PlaceOrderAsync(new UserId(user), lines.Select(l => new OrderLineRequest(new ProductId(l.Product), l.Quantity)).ToArray());

    /// <summary>The stock on hand of a product that exists.</summary>
    public async Task<int> StockOfAsync(long product) => (await Catalog.GetProductAsync(new ProductId(product))).Value.Stock;

    /// <summary>Every product, read page by page.</summary>
    public async Task<List<ProductSummary>> AllProductsAsync()
    {
        var all = new List<ProductSummary>();
        ProductId? after = null;
        while (true)
        {
            var page = await Catalog.ListProductsAsync(after, Options.MaxPageSize);
            all.AddRange(page);
            if (page.Count < Options.MaxPageSize)
            {
                return all;
            }

            after = page[^1].Id;
        }
    }

    /// <summary>Units sold per product over the longest window the options allow, as the ranking reports them.</summary>
    public async Task<Dictionary<ProductId, long>> SoldAsync()
    {
        var ranking = await Ranking.GetPopularProductsAsync(Options.MaxPopularProductsCount, Options.MaxRankingWindow);
        return ranking.ToDictionary(p => p.ProductId, p => p.QuantitySold);
    }

    /// <summary>
    /// Everything observable about the given users and every product, as text: balances, carts, the
    /// catalog with stock, and the ranking. Two equal descriptions mean nothing observable changed.
    /// </summary>
    public async Task<string> DescribeAsync(params long[] users)
    {
        var text = new StringBuilder();
        foreach (var user in users)
        {
            var id = new UserId(user);
            var cart = await Carts.GetCartAsync(id);
            text.Append(CultureInfo.InvariantCulture, $"user {user}: balance {await Wallets.GetBalanceAsync(id)}, cart total {cart.Total}");
            foreach (var line in cart.Lines)
            {
                text.Append(CultureInfo.InvariantCulture, $" [{line.ProductId} x{line.Quantity}]");
            }

            text.AppendLine();
        }

        foreach (var product in await AllProductsAsync())
        {
            text.AppendLine(product.ToString());
        }

        foreach (var popular in await Ranking.GetPopularProductsAsync(Options.MaxPopularProductsCount, Options.MaxRankingWindow))
        {
            text.AppendLine(popular.ToString());
        }

        return text.ToString();
    }

    /// <summary>The store the services use (wrapped, if the shop was built with a wrapper).</summary>
    public ICommerceStore Store => _provider.GetRequiredService<ICommerceStore>();

    public void Dispose() => _provider.Dispose();

    /// <summary>Replaces the store registration with one that wraps what the original would have resolved.</summary>
    private static void Wrap(ServiceCollection services, Func<ICommerceStore, ICommerceStore> wrap)
    {
        var original = services.LastOrDefault(d => d.ServiceType == typeof(ICommerceStore) && !d.IsKeyedService)
            ?? throw new InvalidOperationException("The store selection registered no ICommerceStore to wrap.");
        services.Remove(original);
        services.AddSingleton(sp => wrap(
            original.ImplementationInstance as ICommerceStore
            ?? original.ImplementationFactory?.Invoke(sp) as ICommerceStore
            ?? (ICommerceStore)ActivatorUtilities.CreateInstance(sp, original.ImplementationType!)));
    }
}
