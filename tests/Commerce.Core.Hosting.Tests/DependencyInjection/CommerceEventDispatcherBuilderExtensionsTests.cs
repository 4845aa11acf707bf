using Commerce.Events;
using Commerce.Hosting.Tests.Support;
using Commerce.Storage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using LongNamed = Commerce.Hosting.Tests.DependencyInjection.GenericHandler<System.Collections.Generic.Dictionary<
    System.Collections.Generic.Dictionary<System.Collections.Generic.KeyValuePair<System.Guid, System.DateTimeOffset>, System.Collections.Generic.Dictionary<System.TimeSpan, System.Collections.Generic.Dictionary<System.Guid, System.DateTimeOffset>>>,
    System.Collections.Generic.Dictionary<System.Collections.Generic.KeyValuePair<System.Guid, System.DateTimeOffset>, System.Collections.Generic.Dictionary<System.TimeSpan, System.Collections.Generic.Dictionary<System.Guid, System.DateTimeOffset>>>>>;

namespace Commerce.Hosting.Tests.DependencyInjection;

public sealed class CommerceEventDispatcherBuilderExtensionsTests
{
    [Fact]
    public void A_null_builder_throws_ArgumentNullException()
    {
        Assert.Equal("builder", Assert.Throws<ArgumentNullException>(() => CommerceEventDispatcherBuilderExtensions.AddEventHandler<HandlerA>(null!)).ParamName);
        Assert.Equal("builder", Assert.Throws<ArgumentNullException>(() => CommerceEventDispatcherBuilderExtensions.AddEventDispatcher(null!)).ParamName);
    }

    [Fact]
    public void A_handler_type_registered_twice_under_its_default_name_is_refused_with_the_name()
    {
        var builder = new ServiceCollection().AddCommerce().AddEventHandler<HandlerA>();

        var error = Assert.Throws<ArgumentException>(() => builder.AddEventHandler<HandlerA>());

        Assert.Contains($"'{typeof(HandlerA).FullName}'", error.Message, StringComparison.Ordinal);
        Assert.Contains("registered already", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_generic_handler_s_default_name_names_its_type_arguments_without_their_assemblies_versions()
    {
        // Type.FullName qualifies each type argument with its assembly's name, version and key: the name would
        // change with the host's (or the framework's) next version, and the handler would start again from the
        // oldest event kept.
        var services = new ServiceCollection();
        services.AddCommerce().AddEventHandler<GenericHandler<HandlerA>>().AddEventHandler<GenericHandler<string>>();

        var names = services
            .Select(d => d.IsKeyedService ? null : d.ImplementationInstance as EventHandlerRegistration)
            .OfType<EventHandlerRegistration>()
            .Select(r => r.Name)
            .ToArray();

        Assert.Equal(
            [
                "Commerce.Hosting.Tests.DependencyInjection.GenericHandler`1[Commerce.Hosting.Tests.Support.HandlerA]",
                "Commerce.Hosting.Tests.DependencyInjection.GenericHandler`1[System.String]",
            ],
            names);
    }

    [Fact]
    public void A_non_generic_handler_s_default_name_is_its_full_name()
    {
        var services = new ServiceCollection();
        services.AddCommerce().AddEventHandler<HandlerA>();

        var registration = Assert.Single(services.Select(d => d.IsKeyedService ? null : d.ImplementationInstance as EventHandlerRegistration).OfType<EventHandlerRegistration>());
        Assert.Equal(typeof(HandlerA).FullName, registration.Name);
    }

    [Fact]
    public void Two_handlers_under_one_name_are_refused_naming_the_first()
    {
        var builder = new ServiceCollection().AddCommerce().AddEventHandler<HandlerA>("mail");
        var count = builder.Services.Count;

        var error = Assert.Throws<ArgumentException>(() => builder.AddEventHandler<HandlerB>("mail"));

        Assert.Equal("name", error.ParamName);
        Assert.Contains("'mail'", error.Message, StringComparison.Ordinal);
        Assert.Contains(typeof(HandlerA).FullName!, error.Message, StringComparison.Ordinal);
        Assert.Equal(count, builder.Services.Count);
    }

    [Theory]
    [InlineData("")]
    [InlineData("  ")]
    public void An_empty_name_is_refused(string name)
    {
        var builder = new ServiceCollection().AddCommerce();
        Assert.Equal("name", Assert.Throws<ArgumentException>(() => builder.AddEventHandler<HandlerA>(name)).ParamName);
    }

    [Fact]
    public void A_name_no_store_can_keep_is_refused_at_registration_and_registers_nothing()
    {
        // The name is the checkpoint's: IEventStore refuses U+0000 and unpaired surrogates (a PostgreSQL text holds
        // neither). In a loop, not inline data: a theory's serialized data would not keep an unpaired surrogate.
        var builder = new ServiceCollection().AddCommerce();
        var count = builder.Services.Count;
        foreach (var name in new[] { "a\0b", "\ud800", "x\udc00y", "\udc00\ud800" })
        {
            Assert.Equal("name", Assert.Throws<ArgumentException>(() => builder.AddEventHandler<HandlerA>(name)).ParamName);
        }

        Assert.Equal(count, builder.Services.Count);
        builder.AddEventHandler<HandlerA>("tea \ud83c\udf75");
    }

    [Fact]
    public void A_name_longer_than_a_store_keeps_is_refused_at_registration_and_registers_nothing_whether_given_or_the_default()
    {
        // PostgreSQL's index of checkpoint names takes at most 2,704 bytes a name; CheckpointNames.MaxLength keeps within it.
        var builder = new ServiceCollection().AddCommerce();
        var count = builder.Services.Count;
        Assert.Equal("name", Assert.Throws<ArgumentException>(() => builder.AddEventHandler<HandlerA>(new string('h', CheckpointNames.MaxLength + 1))).ParamName);

        // A generic type's default name holds its type arguments' names, which can be longer than the limit.
        Assert.True(typeof(LongNamed).ToString().Length > CheckpointNames.MaxLength);
        var refused = Assert.Throws<ArgumentException>(() => builder.AddEventHandler<LongNamed>());
        Assert.Equal("name", refused.ParamName);
        Assert.Contains("Pass a shorter name", refused.Message, StringComparison.Ordinal);

        Assert.Equal(count, builder.Services.Count);
        builder.AddEventHandler<HandlerA>(new string('h', CheckpointNames.MaxLength));
        builder.AddEventHandler<LongNamed>("long-named");
    }

    [Fact]
    public async Task One_handler_type_may_be_registered_under_two_names_each_with_its_own_checkpoint()
    {
        var store = new FakeEventStore();
        store.Append(new WalletCharged(new UserId(1), new Money(5), new Money(5), ObservedTimeProvider.Origin));
        await using var host = new DispatcherHost(store, b => b.AddEventHandler<HandlerA>("one").AddEventHandler<HandlerA>("two"));

        await host.StartAsync();
        await store.Until(() => Equals(store.Checkpoint("one"), store.End) && Equals(store.Checkpoint("two"), store.End));

        Assert.Equal(2, host.A.Calls.Count);
    }

    [Fact]
    public void A_handler_is_registered_as_scoped_unless_the_host_registered_it()
    {
        var services = new ServiceCollection();
        services.AddSingleton<HandlerB>();
        services.AddCommerce().AddEventHandler<ScopedHandler>().AddEventHandler<HandlerB>();

        Assert.Equal(ServiceLifetime.Scoped, services.Single(d => d.ServiceType == typeof(ScopedHandler)).Lifetime);
        Assert.Equal(ServiceLifetime.Singleton, services.Single(d => d.ServiceType == typeof(HandlerB)).Lifetime);
    }

    [Fact]
    public void A_handler_the_host_builds_with_a_factory_before_AddEventHandler_is_the_one_resolved_and_the_services_validate()
    {
        var services = new ServiceCollection();
        services.AddSingleton<IEventStore>(new FakeEventStore());
        services.AddSingleton(_ => new ConfiguredHandler("smtp://mail"));
        services.AddCommerce().AddEventHandler<ConfiguredHandler>().AddEventDispatcher();

        // Nothing else is registered for it: validation (the default in Development) has no constructor to check
        // that takes a string the container cannot give.
        Assert.Single(services, d => d.ServiceType == typeof(ConfiguredHandler));
        using var provider = services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true, ValidateScopes = true });
        using var scope = provider.CreateScope();
        Assert.Equal("smtp://mail", scope.ServiceProvider.GetRequiredService<ConfiguredHandler>().Server);
    }

    [Fact]
    public void An_interface_handler_the_host_registers_after_AddEventHandler_is_the_one_resolved_and_the_services_validate()
    {
        var services = new ServiceCollection();
        services.AddSingleton<IEventStore>(new FakeEventStore());
        services.AddCommerce().AddEventHandler<IMailHandler>().AddEventDispatcher();
        services.AddScoped<IMailHandler, MailHandler>();

        // An interface registered as its own implementation cannot be built: validation failed on it before.
        using var provider = services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true, ValidateScopes = true });
        using var scope = provider.CreateScope();
        Assert.IsType<MailHandler>(scope.ServiceProvider.GetRequiredService<IMailHandler>());
        Assert.IsType<CommerceEventDispatcher>(Assert.Single(provider.GetServices<IHostedService>()));
    }

    [Fact]
    public void A_handler_interface_nobody_registered_stops_the_dispatcher_from_being_created_naming_it()
    {
        var services = new ServiceCollection();
        services.AddSingleton<IEventStore>(new FakeEventStore());
        services.AddCommerce().AddEventHandler<HandlerA>().AddEventHandler<IMailHandler>("mail").AddEventDispatcher();
        services.AddSingleton<HandlerA>();
        using var provider = services.BuildServiceProvider();

        // Else the dispatcher started, and that handler's loop failed to resolve it for as long as the host ran.
        var error = Assert.Throws<InvalidOperationException>(() => provider.GetServices<IHostedService>().ToList());
        Assert.Contains("'mail'", error.Message, StringComparison.Ordinal);
        Assert.Contains(typeof(IMailHandler).FullName!, error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(typeof(HandlerA).FullName!, error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0.5)]
    [InlineData(36_501 * 86_400.0)]
    public void An_event_retention_below_a_second_or_beyond_a_hundred_years_is_refused(double seconds)
    {
        var builder = new ServiceCollection().AddCommerce();
        var error = Assert.Throws<ArgumentException>(() => builder.AddEventDispatcher(o => o.EventRetention = TimeSpan.FromSeconds(seconds)));
        Assert.Contains("EventRetention", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_longest_event_retention_is_accepted_and_TimeSpan_MaxValue_is_not()
    {
        var builder = new ServiceCollection().AddCommerce();
        builder.AddEventDispatcher(o => o.EventRetention = TimeSpan.FromDays(36_500));
        Assert.Throws<ArgumentException>(() => new ServiceCollection().AddCommerce().AddEventDispatcher(o => o.EventRetention = TimeSpan.MaxValue));
    }

    [Fact]
    public void Invalid_options_are_refused_at_registration_listing_every_problem_and_registering_nothing()
    {
        var builder = new ServiceCollection().AddCommerce();
        var count = builder.Services.Count;

        var error = Assert.Throws<ArgumentException>(() => builder.AddEventDispatcher(o =>
        {
            o.PageSize = 1001;
            o.MaxDeliveryAttempts = 0;
            o.PoisonEventPolicy = (PoisonEventPolicy)7;
            o.RetryBaseDelay = TimeSpan.Zero;
            o.EventRetention = TimeSpan.FromSeconds(-1);
            o.PurgeInterval = TimeSpan.FromDays(2);
            o.DisposeTimeout = TimeSpan.FromSeconds(-1);
            o.LockRetryDelay = TimeSpan.Zero;
        }));

        foreach (var name in new[] { "PageSize", "MaxDeliveryAttempts", "PoisonEventPolicy", "RetryBaseDelay", "EventRetention", "PurgeInterval", "DisposeTimeout", "LockRetryDelay" })
        {
            Assert.Contains(name, error.Message, StringComparison.Ordinal);
        }

        Assert.Equal(count, builder.Services.Count);
    }

    [Fact]
    public void A_max_retry_delay_below_the_base_is_refused()
    {
        var builder = new ServiceCollection().AddCommerce();
        var error = Assert.Throws<ArgumentException>(() => builder.AddEventDispatcher(o =>
        {
            o.RetryBaseDelay = TimeSpan.FromSeconds(10);
            o.MaxRetryDelay = TimeSpan.FromSeconds(5);
        }));
        Assert.Contains("MaxRetryDelay", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_max_retry_delay_beyond_a_day_is_refused_and_one_of_a_day_is_accepted()
    {
        var builder = new ServiceCollection().AddCommerce();
        var error = Assert.Throws<ArgumentException>(() => builder.AddEventDispatcher(o => o.MaxRetryDelay = TimeSpan.FromDays(1) + TimeSpan.FromTicks(1)));
        Assert.Contains("MaxRetryDelay must be between RetryBaseDelay (00:00:01) and 1 day, but was 1.00:00:00.0000001.", error.Message, StringComparison.Ordinal);
        builder.AddEventDispatcher(o => o.MaxRetryDelay = TimeSpan.FromDays(1));
    }

    [Fact]
    public void A_retry_base_delay_beyond_a_day_is_refused_as_such_not_as_a_maximum_no_value_could_satisfy()
    {
        var builder = new ServiceCollection().AddCommerce();

        // The maximum is at most a day and at least the base: with a base of two days, no maximum was accepted,
        // and the message blamed the maximum.
        var error = Assert.Throws<ArgumentException>(() => builder.AddEventDispatcher(o =>
        {
            o.RetryBaseDelay = TimeSpan.FromDays(2);
            o.MaxRetryDelay = TimeSpan.FromDays(1);
        }));

        Assert.Contains("RetryBaseDelay must be between 1 millisecond and 1 day, but was 2.00:00:00.", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("MaxRetryDelay", error.Message, StringComparison.Ordinal);
        builder.AddEventDispatcher(o => o.RetryBaseDelay = o.MaxRetryDelay = TimeSpan.FromDays(1));
    }

    [Fact]
    public void The_defaults_are_the_documented_ones()
    {
        var options = new CommerceEventDispatcherOptions();
        Assert.Equal(100, options.PageSize);
        Assert.Equal(10, options.MaxDeliveryAttempts);
        Assert.Equal(PoisonEventPolicy.Skip, options.PoisonEventPolicy);
        Assert.Equal(TimeSpan.FromSeconds(1), options.RetryBaseDelay);
        Assert.Equal(TimeSpan.FromMinutes(1), options.MaxRetryDelay);
        Assert.Equal(TimeSpan.FromDays(7), options.EventRetention);
        Assert.Equal(TimeSpan.FromHours(1), options.PurgeInterval);
        Assert.Equal(TimeSpan.FromSeconds(30), options.DisposeTimeout);
        Assert.Equal(TimeSpan.FromSeconds(10), options.LockRetryDelay);
    }

    [Fact]
    public void Calling_AddEventDispatcher_again_registers_one_dispatcher_and_applies_further_configuration()
    {
        var services = new ServiceCollection();
        services.AddSingleton<IEventStore>(new FakeEventStore());
        services.AddCommerce()
            .AddEventDispatcher(o => o.PageSize = 7)
            .AddEventDispatcher(o => o.MaxDeliveryAttempts = 3);

        using var provider = services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true, ValidateScopes = true });
        Assert.IsType<CommerceEventDispatcher>(Assert.Single(provider.GetServices<IHostedService>()));
        var options = provider.GetRequiredService<CommerceEventDispatcherOptions>();
        Assert.Equal(7, options.PageSize);
        Assert.Equal(3, options.MaxDeliveryAttempts);
    }

    [Fact]
    public void Options_made_invalid_on_the_registered_instance_after_registration_stop_the_dispatcher_from_being_created()
    {
        var services = new ServiceCollection();
        services.AddSingleton<IEventStore>(new FakeEventStore());
        services.AddCommerce().AddEventHandler<HandlerA>().AddEventDispatcher();
        using var provider = services.BuildServiceProvider();

        // The registered instance is mutable: a page of none, or a purge every instant, would make the
        // dispatcher fail or hammer the store for as long as the host runs, rather than fail at start.
        var options = provider.GetRequiredService<CommerceEventDispatcherOptions>();
        options.PageSize = 0;
        options.PurgeInterval = TimeSpan.Zero;

        var error = Assert.Throws<InvalidOperationException>(() => provider.GetServices<IHostedService>().ToList());
        Assert.Contains("PageSize", error.Message, StringComparison.Ordinal);
        Assert.Contains("PurgeInterval", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_dispatcher_refuses_to_start_without_an_event_store_saying_so()
    {
        var services = new ServiceCollection();
        services.AddSingleton<ICommerceStore>(new NoEventsStore());
        services.AddCommerce().AddEventHandler<ScopedHandler>().AddEventDispatcher();
        services.AddSingleton<ScopeLog>();
        using var provider = services.BuildServiceProvider();

        var error = Assert.Throws<InvalidOperationException>(() => provider.GetServices<IHostedService>().ToList());
        Assert.Contains("IEventStore", error.Message, StringComparison.Ordinal);
        Assert.Contains("keeps no events", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_dispatcher_of_a_host_that_chose_no_store_says_to_choose_one_rather_than_blaming_a_store()
    {
        var services = new ServiceCollection();
        services.AddCommerce().AddEventHandler<HandlerA>().AddEventDispatcher(); // no UseInMemoryStore()
        using var provider = services.BuildServiceProvider();

        var error = Assert.Throws<InvalidOperationException>(() => provider.GetServices<IHostedService>().ToList());
        Assert.Contains("No Commerce store is registered", error.Message, StringComparison.Ordinal);
        Assert.Contains("UseInMemoryStore()", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("configured store", error.Message, StringComparison.Ordinal);
    }

    /// <summary>A store that keeps no events (it is no <see cref="IEventStore"/>); never opened.</summary>
    private sealed class NoEventsStore : ICommerceStore
    {
        public ValueTask<IStoreSession> OpenSessionAsync(CancellationToken cancellationToken = default) =>
            throw new NotSupportedException("Never opened.");
    }
}

internal sealed class GenericHandler<T> : ICommerceEventHandler
{
    public ValueTask HandleAsync(CommerceEvent @event, CancellationToken cancellationToken) => ValueTask.CompletedTask;
}

/// <summary>A handler whose constructor takes a setting only the host's factory supplies.</summary>
internal sealed class ConfiguredHandler(string server) : ICommerceEventHandler
{
    public string Server { get; } = server;

    public ValueTask HandleAsync(CommerceEvent @event, CancellationToken cancellationToken) => ValueTask.CompletedTask;
}

/// <summary>A handler the host registers under an interface of its own.</summary>
public interface IMailHandler : ICommerceEventHandler;

internal sealed class MailHandler : IMailHandler
{
    public ValueTask HandleAsync(CommerceEvent @event, CancellationToken cancellationToken) => ValueTask.CompletedTask;
}
