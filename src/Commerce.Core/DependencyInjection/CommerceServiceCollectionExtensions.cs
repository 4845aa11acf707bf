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
    /// <exception cref="ArgumentException">The configured options are invalid; the message lists every problem.</exception>
    public static ICommerceBuilder AddCommerce(this IServiceCollection services, Action<CommerceOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);

        // Configure a copy and validate it first, so that invalid options leave the collection unchanged.
        var registered = services.FirstOrDefault(d => d.ServiceType == typeof(CommerceOptions) && !d.IsKeyedService)?.ImplementationInstance as CommerceOptions;
        var candidate = registered?.Snapshot() ?? new CommerceOptions();
        configure?.Invoke(candidate);
        var problems = candidate.Validate();
        if (problems.Count > 0)
        {
            throw new ArgumentException("Invalid Commerce options: " + string.Join(" ", problems), nameof(configure));
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

    private sealed class CommerceBuilder(IServiceCollection services) : ICommerceBuilder
    {
        public IServiceCollection Services { get; } = services;
    }
}
