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

    /// <summary>The options <paramref name="configure"/> makes of the defaults.</summary>
    private static CommerceOptions Configured(Action<CommerceOptions>? configure)
    {
        var options = new CommerceOptions();
        configure?.Invoke(options);
        return options;
    }

    /// <summary>
    /// Each of the five services enforces a limit of <paramref name="expected"/> exactly at its edge: so
    /// the provider resolves them, and on the options the host configured.
    /// </summary>
    private static async Task AssertEveryServiceEnforces(IServiceProvider provider, CommerceOptions expected)
    {
        var user = new UserId(1);
        var wallets = provider.GetRequiredService<IWalletService>();
        Assert.Equal(CommerceErrorCode.ChargeLimitExceeded, (await wallets.ChargeAsync(user, new Money(expected.MaxChargeAmount.Amount + 1))).Error?.Code);
        Assert.Equal(expected.MaxChargeAmount, (await wallets.ChargeAsync(user, expected.MaxChargeAmount)).Value);

        var catalog = provider.GetRequiredService<ICatalogService>();
        var tooLong = await catalog.AddProductAsync(new ProductId(1), new string('n', expected.MaxProductNameLength + 1), Money.Zero, 1);
        Assert.Equal(CommerceErrorCode.InvalidProductName, tooLong.Error?.Code);
        Assert.True((await catalog.AddProductAsync(new ProductId(1), new string('n', expected.MaxProductNameLength), Money.Zero, 1)).IsSuccess);

        var orders = provider.GetRequiredService<IOrderService>();
        var lines = Enumerable.Range(1, expected.MaxOrderLines + 1).Select(p => new OrderLineRequest(new ProductId(p), 1)).ToArray();
        Assert.Equal(CommerceErrorCode.TooManyLines, (await orders.PlaceOrderAsync(user, lines)).Error?.Code);
        Assert.Equal(CommerceErrorCode.InvalidQuantity, (await orders.PlaceOrderAsync(user, [new OrderLineRequest(new ProductId(1), expected.MaxLineQuantity + 1)])).Error?.Code);

        var carts = provider.GetRequiredService<ICartService>();
        Assert.Equal(CommerceErrorCode.InvalidQuantity, (await carts.AddItemAsync(user, new ProductId(1), expected.MaxLineQuantity + 1)).Error?.Code);
        Assert.Equal(CommerceErrorCode.ProductNotFound, (await carts.AddItemAsync(user, new ProductId(2), expected.MaxLineQuantity)).Error?.Code);

        var ranking = provider.GetRequiredService<ISalesRankingService>();
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await ranking.GetPopularProductsAsync(expected.MaxPopularProductsCount + 1, expected.PopularProductsWindow));
        Assert.Empty(await ranking.GetPopularProductsAsync(expected.MaxPopularProductsCount, expected.MaxRankingWindow));
    }

    [Fact]
    public void Null_services_throw_ArgumentNullException()
    {
        var error = Assert.Throws<ArgumentNullException>(() => CommerceServiceCollectionExtensions.AddCommerce(null!));
        Assert.Equal("services", error.ParamName);
    }

    [Fact]
    public async Task A_null_configure_gives_every_service_the_default_options()
    {
        var services = new ServiceCollection();
        services.AddCommerce(null).UseFakeStore();
        using var provider = Build(services);

        await AssertEveryServiceEnforces(provider, new CommerceOptions());
    }

    [Fact]
    public async Task Every_service_uses_the_configured_options()
    {
        static void Configure(CommerceOptions o)
        {
            o.MaxChargeAmount = new Money(70);
            o.MaxProductNameLength = 3;
            o.MaxOrderLines = 2;
            o.MaxLineQuantity = 4;
            o.MaxPopularProductsCount = 6;
        }

        var services = new ServiceCollection();
        services.AddCommerce(Configure).UseFakeStore();
        using var provider = Build(services);

        await AssertEveryServiceEnforces(provider, Configured(Configure));
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
        { nameof(CommerceOptions.DefaultPageSize), o => o.DefaultPageSize = 0 },
        { nameof(CommerceOptions.MaxPageSize), o => o.MaxPageSize = 0 },
        { nameof(CommerceOptions.PopularProductsCount), o => o.PopularProductsCount = 0 },
        { nameof(CommerceOptions.MaxPopularProductsCount), o => o.MaxPopularProductsCount = 0 },
        { nameof(CommerceOptions.PopularProductsWindow), o => o.PopularProductsWindow = TimeSpan.Zero },
        { nameof(CommerceOptions.MaxRankingWindow), o => o.MaxRankingWindow = TimeSpan.FromDays(4000) },
        { nameof(CommerceOptions.MaxRankingWindow), o => o.MaxRankingWindow = TimeSpan.Zero },
        { nameof(CommerceOptions.RankingResolution), o => o.RankingResolution = TimeSpan.FromMilliseconds(999) },
        { nameof(CommerceOptions.MaxCommitAttempts), o => o.MaxCommitAttempts = 0 },
        { nameof(CommerceOptions.RetryBaseDelay), o => o.RetryBaseDelay = TimeSpan.FromTicks(-1) },
        { nameof(CommerceOptions.MaxRetryDelay), o => o.MaxRetryDelay = TimeSpan.FromMinutes(1) },
        { nameof(CommerceOptions.MaxRetryDelay), o => (o.RetryBaseDelay, o.MaxRetryDelay) = (TimeSpan.FromMilliseconds(10), TimeSpan.FromMilliseconds(5)) },
        { nameof(CommerceOptions.IdempotencyRetention), o => o.IdempotencyRetention = TimeSpan.FromMilliseconds(999) },
        { nameof(CommerceOptions.IdempotencyRetention), o => o.IdempotencyRetention = TimeSpan.FromDays(367) },
    };

    [Theory]
    [MemberData(nameof(InvalidOptions))]
    public void An_invalid_option_throws_ArgumentException_naming_it_and_registers_nothing(string option, Action<CommerceOptions> configure)
    {
        var services = new ServiceCollection();

        var error = Assert.Throws<ArgumentException>(() => services.AddCommerce(configure));

        Assert.Contains(option, error.Message, StringComparison.Ordinal);
        Assert.Equal("configure", error.ParamName);
        Assert.Empty(services);
    }

    [Fact]
    public void Invalid_options_registered_before_an_AddCommerce_without_configure_are_refused_naming_no_parameter()
    {
        // No argument is at fault: the options were invalid when AddCommerce found them.
        var services = new ServiceCollection();
        services.AddSingleton(new CommerceOptions { MaxOrderLines = 0 });
        var before = services.ToList();

        var error = Assert.Throws<ArgumentException>(() => services.AddCommerce());

        Assert.Contains(nameof(CommerceOptions.MaxOrderLines), error.Message, StringComparison.Ordinal);
        Assert.Null(error.ParamName);
        Assert.Equal(before, services);
    }

    [Fact]
    public void Options_made_invalid_after_a_first_AddCommerce_are_refused_by_a_second_without_configure_naming_no_parameter()
    {
        var services = new ServiceCollection();
        services.AddCommerce().UseFakeStore();
        ((CommerceOptions)services.Single(d => d.ServiceType == typeof(CommerceOptions)).ImplementationInstance!).MaxPageSize = 0;

        var error = Assert.Throws<ArgumentException>(() => services.AddCommerce());

        Assert.Contains(nameof(CommerceOptions.MaxPageSize), error.Message, StringComparison.Ordinal);
        Assert.Null(error.ParamName);
    }

    [Fact]
    public void Invalid_registered_options_that_a_configure_delegate_leaves_invalid_are_refused_naming_configure()
    {
        // The delegate is handed the registered options and could have corrected them.
        var services = new ServiceCollection();
        services.AddSingleton(new CommerceOptions { MaxOrderLines = 0 });

        var error = Assert.Throws<ArgumentException>(() => services.AddCommerce(o => o.MaxChargeAmount = new Money(5)));

        Assert.Contains(nameof(CommerceOptions.MaxOrderLines), error.Message, StringComparison.Ordinal);
        Assert.Equal("configure", error.ParamName);
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

    [Fact]
    public async Task An_invalid_second_AddCommerce_throws_and_leaves_the_first_registration_and_its_options_as_they_were()
    {
        var services = new ServiceCollection();
        services.AddCommerce(o => o.MaxLineQuantity = 5).UseFakeStore();
        var registered = services.ToList();

        // The valid change in the same call must not leak into the options either.
        Assert.Throws<ArgumentException>(() => services.AddCommerce(o =>
        {
            o.MaxChargeAmount = new Money(7);
            o.MaxOrderLines = 0;
        }));

        Assert.Equal(registered, services);
        using var provider = Build(services);
        await AssertEveryServiceEnforces(provider, Configured(o => o.MaxLineQuantity = 5));
    }

    [Fact]
    public async Task A_second_AddCommerce_keeps_the_first_registration_and_its_store()
    {
        var first = new FakeStore();
        var services = new ServiceCollection();
        services.AddCommerce().Services.AddSingleton<ICommerceStore>(first);
        var registered = services.Select(d => (d.ServiceType, d.Lifetime)).ToList();

        services.AddCommerce(o => o.MaxOrderLines = 3).UseFakeStore();

        Assert.Equal(registered, services.Select(d => (d.ServiceType, d.Lifetime)));
        using var provider = Build(services);
        await provider.GetRequiredService<IWalletService>().ChargeAsync(new UserId(1), new Money(9));
        await using var unitOfWork = await first.BeginAsync();
        Assert.Equal(new Money(9), (await unitOfWork.Wallets.FindAsync(new UserId(1)))?.Balance);
    }

    [Fact]
    public async Task Options_from_a_second_AddCommerce_take_effect_in_the_services()
    {
        var services = new ServiceCollection();
        services.AddCommerce(o => o.MaxLineQuantity = 5).UseFakeStore();
        services.AddCommerce(o => o.MaxOrderLines = 1);
        using var provider = Build(services);

        await AssertEveryServiceEnforces(provider, Configured(o =>
        {
            o.MaxLineQuantity = 5;
            o.MaxOrderLines = 1;
        }));
    }

    [Fact]
    public void A_second_AddCommerce_carries_every_setting_it_changes()
    {
        // Every public setting changed by the second call, found by reflection, so that one added later is covered too.
        var settings = typeof(CommerceOptions).GetProperties().Where(p => p.CanWrite).ToArray();
        static object Changed(object value) => value switch
        {
            bool flag => !flag,
            int number => number - 1,
            Money money => new Money(money.Amount - 1),
            TimeSpan span => span * 2,
            _ => throw new InvalidOperationException($"No changed value for a {value.GetType()}: extend this test."),
        };

        var expected = new CommerceOptions();
        foreach (var setting in settings)
        {
            setting.SetValue(expected, Changed(setting.GetValue(expected)!));
        }

        var services = new ServiceCollection();
        services.AddCommerce().UseFakeStore();
        services.AddCommerce(o =>
        {
            foreach (var setting in settings)
            {
                setting.SetValue(o, setting.GetValue(expected));
            }
        });
        using var provider = Build(services);

        var registered = provider.GetRequiredService<CommerceOptions>();
        Assert.All(settings, setting => Assert.Equal(setting.GetValue(expected), setting.GetValue(registered)));
        Assert.Contains(settings, setting => setting.Name == nameof(CommerceOptions.PublishEvents));
    }

    public static TheoryData<string, Action<IServiceCollection>> OptionsRegisteredOtherThanByInstance => new()
    {
        { "factory", s => s.AddSingleton(_ => new CommerceOptions { MaxChargeAmount = new Money(10) }) },
        { "type", s => s.AddSingleton<CommerceOptions>() },
        { "type", s => s.AddTransient<CommerceOptions>() },
    };

    [Theory]
    [MemberData(nameof(OptionsRegisteredOtherThanByInstance))]
    public void Options_the_host_registered_with_a_factory_or_a_type_are_refused_saying_what_to_do_and_nothing_is_registered(string registeredBy, Action<IServiceCollection> register)
    {
        // AddCommerce can neither configure nor validate such options, and a registration of its own would hide them.
        var services = new ServiceCollection();
        register(services);
        var before = services.ToList();

        var error = Assert.Throws<InvalidOperationException>(() => services.AddCommerce(o => o.MaxOrderLines = 3));

        Assert.Contains($"CommerceOptions is registered with a {registeredBy}", error.Message, StringComparison.Ordinal);
        Assert.Contains("AddCommerce's configure delegate", error.Message, StringComparison.Ordinal);
        Assert.Equal(before, services);
        Assert.Throws<InvalidOperationException>(() => services.AddCommerce());
        Assert.Equal(before, services);
    }

    [Fact]
    public void Options_registered_with_a_factory_after_AddCommerce_are_refused_by_a_later_AddCommerce()
    {
        var services = new ServiceCollection();
        services.AddCommerce(o => o.MaxLineQuantity = 5).UseFakeStore();
        services.AddSingleton(_ => new CommerceOptions { MaxChargeAmount = new Money(10) });
        var before = services.ToList();

        var error = Assert.Throws<InvalidOperationException>(() => services.AddCommerce(o => o.MaxOrderLines = 3));

        Assert.Contains("CommerceOptions is registered with a factory", error.Message, StringComparison.Ordinal);
        Assert.Equal(before, services);
    }

    [Fact]
    public async Task A_later_AddCommerce_configures_the_options_instance_the_services_read_the_last_one_registered()
    {
        var services = new ServiceCollection();
        services.AddCommerce(o => o.MaxLineQuantity = 5).UseFakeStore();
        var host = new CommerceOptions { MaxChargeAmount = new Money(70) };
        services.AddSingleton(host);

        services.AddCommerce(o => o.MaxOrderLines = 3);

        using var provider = Build(services);
        Assert.Same(host, provider.GetRequiredService<CommerceOptions>());
        await AssertEveryServiceEnforces(provider, Configured(o =>
        {
            o.MaxChargeAmount = new Money(70);
            o.MaxOrderLines = 3;
        }));
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
    public void Options_made_invalid_after_registration_are_refused_naming_them_when_the_services_are_created()
    {
        var services = new ServiceCollection();
        services.AddCommerce().UseFakeStore();
        using var provider = Build(services);
        var options = provider.GetRequiredService<CommerceOptions>();
        options.RankingResolution = TimeSpan.Zero;
        options.MaxPageSize = 0;

        var error = Assert.Throws<InvalidOperationException>(provider.GetRequiredService<ISalesRankingService>);

        Assert.Contains(nameof(CommerceOptions.RankingResolution), error.Message, StringComparison.Ordinal);
        Assert.Contains(nameof(CommerceOptions.MaxPageSize), error.Message, StringComparison.Ordinal);
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
        Assert.Equal(TestClock.Start, order.Value.PlacedAt);
    }

    [Fact]
    public async Task Services_work_without_any_logging_registered()
    {
        var services = new ServiceCollection();
        services.AddCommerce().UseFakeStore();
        using var provider = Build(services);

        await AssertEveryServiceEnforces(provider, new CommerceOptions());
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
    public async Task Reading_the_event_feed_without_a_store_says_to_choose_one_rather_than_blaming_a_store()
    {
        var services = new ServiceCollection();
        services.AddCommerce();
        using var provider = services.BuildServiceProvider();

        var error = await Assert.ThrowsAsync<InvalidOperationException>(
            async () => await provider.GetRequiredService<Commerce.Events.ICommerceEventFeed>().ReadAsync(Commerce.Events.EventCursor.Start));
        Assert.Contains("No Commerce store is registered", error.Message, StringComparison.Ordinal);
        Assert.Contains("UseInMemoryStore()", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("configured store", error.Message, StringComparison.Ordinal);
    }

    /// <summary>
    /// The feed resolves without a store (the other services do not), so its calls are where a host that chose none
    /// learns it: both throw <see cref="InvalidOperationException"/>, and both document it.
    /// </summary>
    [Fact]
    public async Task The_feed_documents_the_InvalidOperationException_its_calls_throw_without_a_store()
    {
        var services = new ServiceCollection();
        services.AddCommerce();
        using var provider = services.BuildServiceProvider();
        var feed = provider.GetRequiredService<Commerce.Events.ICommerceEventFeed>();

        await Assert.ThrowsAsync<InvalidOperationException>(async () => await feed.ReadAsync(Commerce.Events.EventCursor.Start));
        await Assert.ThrowsAsync<InvalidOperationException>(async () => await feed.WaitAsync(Commerce.Events.EventCursor.Start));
        Assert.Contains("T:System.InvalidOperationException", XmlDocumentation.Exceptions(
            "M:Commerce.Events.ICommerceEventFeed.ReadAsync(Commerce.Events.EventCursor,System.Int32,System.Threading.CancellationToken)"));
        Assert.Contains("T:System.InvalidOperationException", XmlDocumentation.Exceptions(
            "M:Commerce.Events.ICommerceEventFeed.WaitAsync(Commerce.Events.EventCursor,System.Threading.CancellationToken)"));
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
