using System.Collections.Concurrent;
using Commerce.Events;
using Commerce.Postgres.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Commerce.Postgres.Tests;

/// <summary>The event dispatcher run by two host instances (service providers, connection pools) on one database.</summary>
public sealed class DispatcherInstancesTests
{
    [PostgresFact]
    public async Task Two_instances_running_the_dispatcher_deliver_each_event_once_and_the_second_takes_over_from_the_checkpoint_when_the_first_stops()
    {
        await using var shop = await PgShop.CreateAsync();
        var log = new DeliveryLog();
        await using var one = Instance(shop.Schema, 1, log);
        await using var two = Instance(shop.Schema, 2, log);
        var dispatcherOne = one.GetServices<IHostedService>().Single();
        var dispatcherTwo = two.GetServices<IHostedService>().Single();
        await dispatcherOne.StartAsync(CancellationToken.None);
        Assert.True((await shop.Wallets.ChargeAsync(new UserId(1), new Money(100))).IsSuccess);
        await log.Until(1); // the first instance holds the lock before the second starts
        await dispatcherTwo.StartAsync(CancellationToken.None);

        for (var user = 2; user <= 20; user++)
        {
            Assert.True((await shop.Wallets.ChargeAsync(new UserId(user), new Money(100))).IsSuccess);
        }

        await log.Until(20);
        Assert.All(log.Deliveries, d => Assert.Equal(1, d.Instance));

        // The first instance stops: it saves its checkpoint and releases the lock, and the second takes over.
        await dispatcherOne.StopAsync(CancellationToken.None);
        for (var user = 21; user <= 30; user++)
        {
            Assert.True((await shop.Wallets.ChargeAsync(new UserId(user), new Money(100))).IsSuccess);
        }

        await log.Until(30);
        await dispatcherTwo.StopAsync(CancellationToken.None);

        var deliveries = log.Deliveries;
        Assert.Equal(30, deliveries.Count);
        Assert.Equal(30, deliveries.Select(d => d.Event.Position).Distinct().Count()); // none twice
        Assert.Equal(Enumerable.Range(1, 30), deliveries.Select(d => d.Event).OfType<WalletCharged>().Select(c => (int)c.UserId.Value).Order());
        Assert.All(deliveries.Skip(20), d => Assert.Equal(2, d.Instance));
    }

    /// <summary>A host instance on <paramref name="schema"/> whose dispatcher hands every event to a <see cref="Recorder"/>.</summary>
    private static ServiceProvider Instance(string schema, int instance, DeliveryLog log)
    {
        var services = new ServiceCollection();
        services.AddSingleton(log);
        services.AddSingleton(new InstanceNumber(instance));
        services.AddCommerce()
            .UsePostgresStore(options =>
            {
                options.ConnectionString = PgShop.RequiredConnectionString + ";Maximum Pool Size=8;Application Name=commerce-tests-dispatcher-" + instance;
                options.Schema = schema;
            })
            .AddEventHandler<Recorder>()
            .AddEventDispatcher(o => (o.LockRetryDelay, o.EventRetention) = (TimeSpan.FromMilliseconds(50), null));
        return services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true, ValidateScopes = true });
    }

    private sealed record InstanceNumber(int Value);

    private sealed class Recorder(InstanceNumber instance, DeliveryLog log) : ICommerceEventHandler
    {
        public ValueTask HandleAsync(CommerceEvent @event, CancellationToken cancellationToken)
        {
            log.Add(instance.Value, @event);
            return ValueTask.CompletedTask;
        }
    }

    /// <summary>Every delivery, in order, with a wait for a count (failing after 60 s as a safety net).</summary>
    private sealed class DeliveryLog
    {
        private readonly ConcurrentQueue<(int Instance, CommerceEvent Event)> _deliveries = new();
        private readonly ConcurrentDictionary<int, TaskCompletionSource> _counts = new();

        public IReadOnlyList<(int Instance, CommerceEvent Event)> Deliveries => [.. _deliveries];

        public void Add(int instance, CommerceEvent @event)
        {
            _deliveries.Enqueue((instance, @event));
            _counts.GetOrAdd(_deliveries.Count, _ => new(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
        }

        public Task Until(int count)
        {
            var reached = _counts.GetOrAdd(count, _ => new(TaskCreationOptions.RunContinuationsAsynchronously));
            if (_deliveries.Count >= count)
            {
                reached.TrySetResult();
            }

            return reached.Task.WaitAsync(TimeSpan.FromSeconds(60));
        }
    }
}
