using System.Diagnostics.Metrics;
using Commerce.Storage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Commerce;

/// <summary>Registers the library in a <see cref="IServiceCollection"/>.</summary>
public static class CommerceServiceCollectionExtensions
{
    /// <summary>
    /// Registers the Commerce services (<see cref="IWalletService"/>, <see cref="ICatalogService"/>,
    /// <see cref="IOrderService"/>, <see cref="ISalesRankingService"/>, <see cref="ICartService"/>) and the event
    /// feed (<see cref="Events.ICommerceEventFeed"/>) as singletons, and <see cref="TimeProvider.System"/> unless the host registered a
    /// <see cref="TimeProvider"/>. Choose a store on the returned builder, for example
    /// <c>.UseInMemoryStore()</c>. Metrics go to a meter named <see cref="CommerceDiagnostics.MeterName"/>,
    /// created through the host's <see cref="IMeterFactory"/> when it registers one (for example with
    /// <c>services.AddMetrics()</c>); traces to the activity source <see cref="CommerceDiagnostics.ActivitySourceName"/>.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configure">Sets options; validated at once. Calling <c>AddCommerce</c> again applies further configuration to the same options.</param>
    /// <returns>A builder for choosing the store.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="services"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">
    /// The configured options are invalid; the message lists every problem. Its <see cref="ArgumentException.ParamName"/> is
    /// <c>configure</c> when a delegate was passed (it is handed the options registered before, and may correct them), and
    /// <see langword="null"/> without one (the options a registered instance held were invalid).
    /// </exception>
    /// <exception cref="InvalidOperationException">
    /// The collection registers <see cref="CommerceOptions"/> with a factory or an implementation type (the last registration,
    /// the one the container resolves): such options can be neither configured nor validated here. A registered instance is
    /// configured and validated like the one <c>AddCommerce</c> registers.
    /// </exception>
    public static ICommerceBuilder AddCommerce(this IServiceCollection services, Action<CommerceOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);

        // Configure a copy and validate it first, so that invalid options leave the collection unchanged.
        var registered = RegisteredOptions(services);
        var candidate = registered?.Snapshot() ?? new CommerceOptions();
        configure?.Invoke(candidate);
        var problems = candidate.Validate();
        if (problems.Count > 0)
        {
            // Without a delegate no argument is at fault: the registered options were invalid when found.
            throw new ArgumentException("Invalid Commerce options: " + string.Join(" ", problems), configure is null ? null : nameof(configure));
        }

        if (registered is null)
        {
            services.AddSingleton(candidate);
        }
        else
        {
            registered.CopyFrom(candidate);
        }

        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton(sp => new CommerceRuntime(
            sp.GetService<ICommerceStore>() ?? throw new InvalidOperationException(
                "No Commerce store is registered. Call a store method on the builder AddCommerce returns, for example services.AddCommerce().UseInMemoryStore()."),
            sp.GetRequiredService<CommerceOptions>(),
            sp.GetRequiredService<TimeProvider>(),
            sp.GetService<ILoggerFactory>() ?? NullLoggerFactory.Instance,
            CommerceTelemetry.Create(sp.GetService<IMeterFactory>())));
        services.TryAddSingleton<IWalletService>(sp => new WalletService(sp.GetRequiredService<CommerceRuntime>()));
        services.TryAddSingleton<ICatalogService>(sp => new CatalogService(sp.GetRequiredService<CommerceRuntime>()));
        services.TryAddSingleton<IOrderService>(sp => new OrderService(sp.GetRequiredService<CommerceRuntime>()));
        services.TryAddSingleton<ISalesRankingService>(sp => new SalesRankingService(sp.GetRequiredService<CommerceRuntime>()));
        services.TryAddSingleton<ICartService>(sp => new CartService(sp.GetRequiredService<CommerceRuntime>()));
        services.TryAddSingleton<Events.ICommerceEventFeed>(sp => new Events.CommerceEventFeed(sp));
        return new CommerceBuilder(services);
    }

    /// <summary>
    /// The <see cref="CommerceOptions"/> instance the container will resolve (the last registration of the type wins),
    /// or <see langword="null"/> if none is registered.
    /// </summary>
    /// <exception cref="InvalidOperationException">That registration is a factory or an implementation type, whose options could be neither configured nor validated here.</exception>
    private static CommerceOptions? RegisteredOptions(IServiceCollection services)
    {
        ServiceDescriptor? last = null;
        foreach (var descriptor in services)
        {
            if (descriptor.ServiceType == typeof(CommerceOptions) && !descriptor.IsKeyedService)
            {
                last = descriptor;
            }
        }

        return last switch
        {
            null => null,
            { ImplementationInstance: CommerceOptions instance } => instance,
            _ => throw new InvalidOperationException(
                $"CommerceOptions is registered with a {(last.ImplementationFactory is null ? "type" : "factory")} ({last.Lifetime}), whose options AddCommerce can neither configure "
                + "nor validate, and which a registration of its own would hide. Remove that registration and set the options in AddCommerce's configure delegate "
                + "(services.AddCommerce(options => configuration.GetSection(\"Commerce\").Bind(options))), or register a CommerceOptions instance."),
        };
    }

    private sealed class CommerceBuilder(IServiceCollection services) : ICommerceBuilder
    {
        public IServiceCollection Services { get; } = services;
    }
}
