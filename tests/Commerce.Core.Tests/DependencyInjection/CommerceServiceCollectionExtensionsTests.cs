using Commerce.Conformance;
using Commerce.Storage;
using Commerce.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace Commerce.Tests.DependencyInjection;

public sealed class CommerceServiceCollectionExtensionsTests
{
    private static ServiceProvider Build(IServiceCollection services) =>
        services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true, ValidateScopes = true });

    private static void ResolveEveryService(IServiceProvider provider)
    {
        Assert.NotNull(provider.GetRequiredService<IWalletService>());
        Assert.NotNull(provider.GetRequiredService<ICatalogService>());
        Assert.NotNull(provider.GetRequiredService<IOrderService>());
        Assert.NotNull(provider.GetRequiredService<ISalesRankingService>());
        Assert.NotNull(provider.GetRequiredService<ICartService>());
    }

    [Fact]
    public void Null_services_throw_ArgumentNullException()
    {
        var error = Assert.Throws<ArgumentNullException>(() => CommerceServiceCollectionExtensions.AddCommerce(null!));
        Assert.Equal("services", error.ParamName);
    }

    [Fact]
    public void A_null_configure_registers_the_defaults()
    {
        var services = new ServiceCollection();
        services.AddCommerce(null).UseFakeStore();
        using var provider = Build(services);

        ResolveEveryService(provider);
        Assert.Equal(new CommerceOptions().MaxChargeAmount, provider.GetRequiredService<CommerceOptions>().MaxChargeAmount);
    }

    [Fact]
    public void The_builder_exposes_the_same_service_collection()
    {
        var services = new ServiceCollection();
        Assert.Same(services, services.AddCommerce().Services);
    }

    public static TheoryData<string, Action<CommerceOptions>> InvalidOptions => new()
    {
        { nameof(CommerceOptions.MaxChargeAmount), o => o.MaxChargeAmount = Money.Zero },
        { nameof(CommerceOptions.MaxBalance), o => o.MaxBalance = new Money(-1) },
        { nameof(CommerceOptions.MaxLineQuantity), o => o.MaxLineQuantity = 0 },
        { nameof(CommerceOptions.MaxOrderLines), o => o.MaxOrderLines = -1 },
        { nameof(CommerceOptions.MaxProductNameLength), o => o.MaxProductNameLength = 0 },
        { nameof(CommerceOptions.DefaultPageSize), o => o.DefaultPageSize = 101 },
        { nameof(CommerceOptions.MaxPageSize), o => o.MaxPageSize = 0 },
        { nameof(CommerceOptions.PopularProductsCount), o => o.PopularProductsCount = 0 },
        { nameof(CommerceOptions.MaxPopularProductsCount), o => o.MaxPopularProductsCount = 0 },
        { nameof(CommerceOptions.PopularProductsWindow), o => o.PopularProductsWindow = TimeSpan.Zero },
        { nameof(CommerceOptions.MaxRankingWindow), o => o.MaxRankingWindow = TimeSpan.FromDays(4000) },
        { nameof(CommerceOptions.RankingResolution), o => o.RankingResolution = TimeSpan.FromMilliseconds(999) },
        { nameof(CommerceOptions.MaxCommitAttempts), o => o.MaxCommitAttempts = 0 },
        { nameof(CommerceOptions.RetryBaseDelay), o => o.RetryBaseDelay = TimeSpan.FromTicks(-1) },
        { nameof(CommerceOptions.MaxRetryDelay), o => o.MaxRetryDelay = TimeSpan.FromMinutes(1) },
    };

    [Theory]
    [MemberData(nameof(InvalidOptions))]
    public void An_invalid_option_throws_ArgumentException_naming_it(string option, Action<CommerceOptions> configure)
    {
        var error = Assert.Throws<ArgumentException>(() => new ServiceCollection().AddCommerce(configure));
        Assert.Contains(option, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Every_invalid_option_is_listed_in_one_exception()
    {
        var error = Assert.Throws<ArgumentException>(() => new ServiceCollection().AddCommerce(o =>
        {
            o.MaxLineQuantity = 0;
            o.MaxCommitAttempts = 0;
        }));
        Assert.Contains(nameof(CommerceOptions.MaxLineQuantity), error.Message, StringComparison.Ordinal);
        Assert.Contains(nameof(CommerceOptions.MaxCommitAttempts), error.Message, StringComparison.Ordinal);
    }

    /// <summary>
    /// Documented behaviour: a failed <c>AddCommerce</c> leaves the (invalid) options instance in the
    /// collection but registers no service, so nothing half-built can be resolved; the host is expected
    /// to stop on the exception.
    /// </summary>
    [Fact]
    public void After_invalid_options_no_service_is_registered()
    {
        var services = new ServiceCollection();
        Assert.Throws<ArgumentException>(() => services.AddCommerce(o => o.MaxOrderLines = 0));
        using var provider = Build(services);

        Assert.Null(provider.GetService<IWalletService>());
        Assert.Null(provider.GetService<IOrderService>());
        Assert.DoesNotContain(services, d => d.ServiceType == typeof(ICommerceStore));
    }

    [Fact]
    public void A_second_AddCommerce_is_harmless_and_configures_the_same_options()
    {
        var services = new ServiceCollection();
        services.AddCommerce(o => o.MaxLineQuantity = 5).UseFakeStore();
        services.AddCommerce(o => o.MaxOrderLines = 3).UseFakeStore();

        Assert.Single(services, d => d.ServiceType == typeof(CommerceOptions));
        Assert.Single(services, d => d.ServiceType == typeof(IOrderService));
        Assert.Single(services, d => d.ServiceType == typeof(ICommerceStore));
        Assert.Single(services, d => d.ServiceType == typeof(TimeProvider));
        using var provider = Build(services);
        var options = provider.GetRequiredService<CommerceOptions>();
        Assert.Equal(5, options.MaxLineQuantity);
        Assert.Equal(3, options.MaxOrderLines);
    }

    [Fact]
    public async Task Options_from_a_second_AddCommerce_take_effect_in_the_services()
    {
        var services = new ServiceCollection();
        services.AddCommerce(o => o.MaxLineQuantity = 5).UseFakeStore();
        services.AddCommerce(o => o.MaxOrderLines = 1);
        using var provider = Build(services);
        var orders = provider.GetRequiredService<IOrderService>();

        var tooMuch = await orders.PlaceOrderAsync(new UserId(1), [new OrderLineRequest(new ProductId(1), 6)]);
        var tooMany = await orders.PlaceOrderAsync(new UserId(1), [new OrderLineRequest(new ProductId(1), 1), new OrderLineRequest(new ProductId(2), 1)]);

        Assert.Equal(CommerceErrorCode.InvalidQuantity, tooMuch.Error?.Code);
        Assert.Equal(CommerceErrorCode.TooManyLines, tooMany.Error?.Code);
    }

    [Fact]
    public async Task Changing_the_options_instance_after_the_services_exist_does_not_reach_them()
    {
        var services = new ServiceCollection();
        services.AddCommerce(o => o.MaxChargeAmount = new Money(10)).UseFakeStore();
        using var provider = Build(services);
        var wallets = provider.GetRequiredService<IWalletService>();

        provider.GetRequiredService<CommerceOptions>().MaxChargeAmount = new Money(1_000);

        Assert.Equal(CommerceErrorCode.ChargeLimitExceeded, (await wallets.ChargeAsync(new UserId(1), new Money(11))).Error?.Code);
    }

    [Fact]
    public void The_system_clock_is_registered_when_the_host_registers_none()
    {
        var services = new ServiceCollection();
        services.AddCommerce().UseFakeStore();
        using var provider = Build(services);

        Assert.Same(TimeProvider.System, provider.GetRequiredService<TimeProvider>());
    }

    [Fact]
    public async Task A_clock_the_host_registered_first_is_kept_and_used()
    {
        var clock = new FakeTimeProvider(TestClock.Start);
        var services = new ServiceCollection();
        services.AddSingleton<TimeProvider>(clock);
        services.AddCommerce().UseFakeStore();
        using var provider = Build(services);

        Assert.Same(clock, provider.GetRequiredService<TimeProvider>());
        await provider.GetRequiredService<ICatalogService>().AddProductAsync(new ProductId(1), "Free", Money.Zero, 1);
        var order = await provider.GetRequiredService<IOrderService>().PlaceOrderAsync(new UserId(1), [new OrderLineRequest(new ProductId(1), 1)]);
        Assert.Equal(clock.GetUtcNow(), order.Value.PlacedAt);
    }

    [Fact]
    public async Task Services_work_without_any_logging_registered()
    {
        var services = new ServiceCollection();
        services.AddCommerce().UseFakeStore();
        using var provider = Build(services);

        ResolveEveryService(provider);
        Assert.Equal(new Money(5), (await provider.GetRequiredService<IWalletService>().ChargeAsync(new UserId(1), new Money(5))).Value);
        Assert.Equal(CommerceErrorCode.InvalidAmount, (await provider.GetRequiredService<IWalletService>().ChargeAsync(new UserId(1), Money.Zero)).Error?.Code);
    }

    [Fact]
    public void Resolving_a_service_without_a_store_throws_InvalidOperationException_pointing_at_UseInMemoryStore()
    {
        var services = new ServiceCollection();
        services.AddCommerce();
        using var provider = services.BuildServiceProvider();

        var error = Assert.Throws<InvalidOperationException>(provider.GetRequiredService<IWalletService>);
        Assert.Contains("UseInMemoryStore", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Every_service_is_a_singleton()
    {
        var services = new ServiceCollection();
        services.AddCommerce().UseFakeStore();
        using var provider = Build(services);

        Assert.Same(provider.GetRequiredService<IOrderService>(), provider.GetRequiredService<IOrderService>());
        Assert.All(
            services.Where(d => d.ServiceType.Namespace is "Commerce" or "Commerce.Storage"),
            d => Assert.Equal(ServiceLifetime.Singleton, d.Lifetime));
    }
}
