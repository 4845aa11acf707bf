using Commerce.Events;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Commerce.Hosting.Tests.Events;

/// <summary>The dispatcher over a real store (the in-memory one): what the services publish reaches every handler.</summary>
public sealed class InMemoryStoreDispatchTests
{
    [Fact]
    public async Task Handlers_get_every_event_the_services_publish_each_stream_in_commit_order_and_checkpoint_it()
    {
        var sink = new Sink();
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddSingleton(sink);
        services.AddCommerce().UseInMemoryStore()
            .AddEventHandler<MailHandler>("mail")
            .AddEventHandler<LedgerHandler>("accounting")
            .AddEventDispatcher();
        await using var provider = services.BuildServiceProvider();
        var hosted = provider.GetServices<IHostedService>().ToArray();
        foreach (var service in hosted)
        {
            await service.StartAsync(CancellationToken.None);
        }

        var wallets = provider.GetRequiredService<IWalletService>();
        var catalog = provider.GetRequiredService<ICatalogService>();
        var orders = provider.GetRequiredService<IOrderService>();
        await catalog.AddProductAsync(new ProductId(1), "Tea", new Money(300), 4);
        var charges = new List<Task>();
        for (var user = 1; user <= 8; user++)
        {
            var id = new UserId(user);
            charges.Add(Task.Run(async () =>
            {
                await wallets.ChargeAsync(id, new Money(1_000));
                await orders.PlaceOrderAsync(id, [new(new ProductId(1), 1)]);
            }));
        }

        await Task.WhenAll(charges);
        var published = await ReadAllAsync(provider.GetRequiredService<ICommerceEventFeed>());
        Assert.Equal(1 + 8 + 4 + 1, published.Count); // added, 8 charges, 4 orders (stock 4), sold out once

        // A guard against a hang, not a timing assertion: the handlers get there as soon as they can.
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await sink.WaitForAsync("mail", published.Count, timeout.Token);
        await sink.WaitForAsync("accounting", published.Count, timeout.Token);
        foreach (var service in hosted)
        {
            await service.StopAsync(CancellationToken.None);
        }

        foreach (var handler in new[] { "mail", "accounting" })
        {
            var got = sink.Of(handler);
            Assert.Equal(Sorted(published.Select(e => e.Position)), Sorted(got.Select(e => e.Position).Distinct()));
            foreach (var stream in got.GroupBy(e => e.Stream))
            {
                var positions = stream.Select(e => e.Position.Sequence).ToArray();
                Assert.Equal(positions.Order(), positions); // each stream's events in commit order
            }
        }

        // Each handler's checkpoint covers everything it was given.
        var store = provider.GetRequiredService<Storage.IEventStore>();
        foreach (var handler in new[] { "mail", "accounting" })
        {
            var checkpoint = await store.LoadCheckpointAsync(handler);
            Assert.NotNull(checkpoint);
            Assert.All(published, e => Assert.True(checkpoint.Covers(e.Position)));
        }
    }

    private static EventPosition[] Sorted(IEnumerable<EventPosition> positions) =>
        [.. positions.OrderBy(p => p.Stripe).ThenBy(p => p.Sequence)];

    private static async Task<List<CommerceEvent>> ReadAllAsync(ICommerceEventFeed feed)
    {
        var all = new List<CommerceEvent>();
        var cursor = EventCursor.Start;
        while (true)
        {
            var page = await feed.ReadAsync(cursor, 7);
            if (page.Events.Count == 0)
            {
                return all;
            }

            all.AddRange(page.Events);
            cursor = page.Next;
        }
    }

    private sealed class MailHandler(Sink sink) : ICommerceEventHandler
    {
        public ValueTask HandleAsync(CommerceEvent @event, CancellationToken cancellationToken) => sink.Add("mail", @event);
    }

    private sealed class LedgerHandler(Sink sink) : ICommerceEventHandler
    {
        public ValueTask HandleAsync(CommerceEvent @event, CancellationToken cancellationToken) => sink.Add("accounting", @event);
    }

    private sealed class Sink
    {
        private readonly Lock _lock = new();
        private readonly Dictionary<string, List<CommerceEvent>> _events = [];
        private readonly List<(string Handler, int Count, TaskCompletionSource Done)> _waits = [];

        public ValueTask Add(string handler, CommerceEvent @event)
        {
            lock (_lock)
            {
                if (!_events.TryGetValue(handler, out var list))
                {
                    _events[handler] = list = [];
                }

                list.Add(@event);
                foreach (var wait in _waits.Where(w => w.Handler == handler && list.Count >= w.Count))
                {
                    wait.Done.TrySetResult();
                }
            }

            return ValueTask.CompletedTask;
        }

        public IReadOnlyList<CommerceEvent> Of(string handler)
        {
            lock (_lock)
            {
                return [.. _events.GetValueOrDefault(handler) ?? []];
            }
        }

        public Task WaitForAsync(string handler, int count, CancellationToken cancellationToken)
        {
            var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            lock (_lock)
            {
                if ((_events.GetValueOrDefault(handler)?.Count ?? 0) >= count)
                {
                    return Task.CompletedTask;
                }

                _waits.Add((handler, count, done));
            }

            return done.Task.WaitAsync(cancellationToken);
        }
    }
}
