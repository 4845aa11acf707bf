using System.Diagnostics.Metrics;
using Commerce.Storage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Commerce.Hosting.Tests.Support;

/// <summary>
/// A service provider with Commerce, the fake store, the observed clock, captured logs and the event
/// dispatcher (retention off unless configured), whose hosted service a test starts and stops. With
/// <c>ownsStore</c>, the container creates the store (before the dispatcher, which needs it) and disposes it
/// (after the dispatcher), as a host's container does with the store it registers. With <c>registered</c>, that is the
/// store the dispatcher reads (one that wraps the fake store, say).
/// </summary>
internal sealed class DispatcherHost : IAsyncDisposable
{
    private bool _started;

    public DispatcherHost(
        FakeEventStore store,
        Action<ICommerceBuilder> handlers,
        Action<CommerceEventDispatcherOptions>? configure = null,
        ObservedTimeProvider? time = null,
        Action<CommerceOptions>? commerce = null,
        bool ownsStore = false,
        IEventStore? registered = null)
    {
        Store = store;
        Time = time ?? new ObservedTimeProvider();
        Logs = new LogCapture(store.Changed);
        var services = new ServiceCollection();
        services.AddLogging(logging => logging.SetMinimumLevel(LogLevel.Trace).AddProvider(Logs));
        services.AddSingleton<TimeProvider>(Time);
        services.AddSingleton<IMeterFactory>(Meters);
        Meters.Measured = store.Changed;
        // A factory's instance is disposed by the container, a given one is not: the handlers' own reference to the
        // store (resolved after the dispatcher, and so disposed before it) is always a given one.
        services.AddSingleton(store);
        if (registered is not null)
        {
            services.AddSingleton(registered);
        }
        else if (ownsStore)
        {
            services.AddSingleton<IEventStore>(_ => store);
        }
        else
        {
            services.AddSingleton<IEventStore>(store);
        }

        services.AddSingleton<HandlerA>();
        services.AddSingleton<HandlerB>();
        services.AddSingleton<ScopeLog>();
        var builder = services.AddCommerce(commerce);
        handlers(builder);
        builder.AddEventDispatcher(options =>
        {
            options.EventRetention = null;
            options.RetryBaseDelay = TimeSpan.FromSeconds(1);
            options.MaxRetryDelay = TimeSpan.FromMinutes(1);
            configure?.Invoke(options);
        });
        Services = services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true, ValidateScopes = true });
        Dispatcher = (BackgroundService)Services.GetServices<IHostedService>().Single();
    }

    public FakeEventStore Store { get; }

    public ObservedTimeProvider Time { get; }

    /// <summary>The services' meter factory, which records what the dispatcher measures (and wakes the store's waits).</summary>
    public TestMeterFactory Meters { get; } = new();

    public LogCapture Logs { get; }

    public ServiceProvider Services { get; }

    public BackgroundService Dispatcher { get; }

    public HandlerA A => Services.GetRequiredService<HandlerA>();

    public HandlerB B => Services.GetRequiredService<HandlerB>();

    public async Task StartAsync()
    {
        _started = true;
        await Dispatcher.StartAsync(CancellationToken.None);
    }

    public async Task StopAsync()
    {
        if (_started)
        {
            _started = false;
            await Dispatcher.StopAsync(CancellationToken.None);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        await Services.DisposeAsync();
        Meters.Dispose();
    }
}
