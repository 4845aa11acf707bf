using System.Collections.Concurrent;
using System.Diagnostics;
using Commerce.Postgres.Tests.Support;

namespace Commerce.Postgres.Tests;

/// <summary>The use cases' spans on the PostgreSQL store: Npgsql's own spans (source "Npgsql") nest under them.</summary>
public sealed class TracingTests
{
    private static readonly ActivitySource TestSource = new("Commerce.Postgres.Tests.Tracing");

    [PostgresFact]
    public async Task The_commands_of_a_use_case_are_Npgsql_spans_under_the_use_cases_span()
    {
        await using var shop = await PgShop.CreateAsync();
        await shop.Catalog.AddProductAsync(new ProductId(1), "Tea", new Money(300), 10);
        await shop.Wallets.ChargeAsync(new UserId(1), new Money(1_000));

        var stopped = new ConcurrentQueue<Activity>();
        Activity? root = null;
        using var listener = new ActivityListener
        {
            ShouldListenTo = s => s.Name is "Commerce" or "Npgsql" or "Commerce.Postgres.Tests.Tracing",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = a =>
            {
                if (root is not null && a.TraceId == root.TraceId && a != root)
                {
                    stopped.Enqueue(a);
                }
            },
        };
        ActivitySource.AddActivityListener(listener);
        Order order;
        using (root = TestSource.StartActivity("test"))
        {
            order = (await shop.Orders.PlaceOrderAsync(new UserId(1), [new OrderLineRequest(new ProductId(1), 2)])).Value;
        }

        var spans = stopped.ToList();
        var placed = Assert.Single(spans, s => s.Source.Name == "Commerce");
        Assert.Equal("commerce.place_order", placed.OperationName);
        Assert.Equal(root!.SpanId, placed.ParentSpanId);
        Assert.Equal(order.Id.ToString(), placed.GetTagItem("commerce.order.id"));
        var commands = spans.Where(s => s.Source.Name == "Npgsql").ToList();
        Assert.True(commands.Count >= 2, $"{commands.Count} Npgsql span(s): an order reads, then commits in one batch.");

        Assert.All(commands, c => Assert.Equal(placed.SpanId, c.ParentSpanId));
        Assert.All(commands, c => Assert.InRange(c.StartTimeUtc, placed.StartTimeUtc, placed.StartTimeUtc + placed.Duration));
    }

    [PostgresFact]
    public async Task With_group_commit_the_commands_of_later_use_cases_stay_out_of_the_trace_the_store_was_created_in()
    {
        var stopped = new ConcurrentQueue<Activity>();
        var ended = new SemaphoreSlim(0); // not disposed: the other tests' Npgsql spans may stop while the listener goes
        using var listener = ListenToAll(stopped, ended);

        // The host builds the store on its first request (the first service resolved), inside that request's span.
        PgShop shop;
        Activity first;
        using (first = TestSource.StartActivity("first request")!)
        {
            shop = await PgShop.CreateAsync(store: o => o.GroupCommit = true);
        }

        await using (shop)
        {
            await shop.Catalog.AddProductAsync(new ProductId(1), "Tea", new Money(300), 10);
            await shop.Wallets.ChargeAsync(new UserId(1), new Money(1_000));
            using (TestSource.StartActivity("later request"))
            {
                Assert.True((await shop.Orders.PlaceOrderAsync(new UserId(1), [new OrderLineRequest(new ProductId(1), 2)])).IsSuccess);
            }
        }

        var later = stopped.Where(a => a.Source.Name == "Npgsql" && a.StartTimeUtc > first.StartTimeUtc + first.Duration).ToList();
        Assert.NotEmpty(later);
        Assert.All(later, a => Assert.NotEqual(first.TraceId, a.TraceId));
    }

    [PostgresFact]
    public async Task The_notification_that_wakes_event_waiters_after_commits_is_a_span_of_its_own_in_no_use_cases_trace()
    {
        var stopped = new ConcurrentQueue<Activity>();
        var ended = new SemaphoreSlim(0); // not disposed: the other tests' Npgsql spans may stop while the listener goes
        using var listener = ListenToAll(stopped, ended);
        await using var shop = await PgShop.CreateAsync();
        await shop.Catalog.AddProductAsync(new ProductId(1), "Tea", new Money(300), 10);
        await shop.Wallets.ChargeAsync(new UserId(1), new Money(1_000));

        Activity root;
        using (root = TestSource.StartActivity("request")!)
        {
            Assert.True((await shop.Orders.PlaceOrderAsync(new UserId(1), [new OrderLineRequest(new ProductId(1), 2)])).IsSuccess);
        }

        // One notification (at least) follows the order's commit: it may serve the commits of other requests as well.
        var notify = shop.Store.Events.Notify; // this shop's channel: the listener hears the other tests' stores too
        bool IsNotification(Activity a) =>
            a.Source.Name == "Npgsql" && a.TagObjects.Any(t => t.Value is string text && text.Contains(notify, StringComparison.Ordinal));
        using (var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(1))) // a guard against a hang
        {
            while (!stopped.Any(a => IsNotification(a) && a.StartTimeUtc >= root.StartTimeUtc))
            {
                await ended.WaitAsync(timeout.Token); // the next span stopped
            }
        }

        var notifications = stopped.Where(IsNotification).ToList();
        Assert.All(notifications, n => Assert.Equal(default, n.ParentSpanId));
        Assert.All(notifications, n => Assert.NotEqual(root.TraceId, n.TraceId));
    }

    /// <summary>Listens to the use cases', Npgsql's and these tests' spans: each one stopped is queued on <paramref name="stopped"/>, then <paramref name="ended"/> released.</summary>
    private static ActivityListener ListenToAll(ConcurrentQueue<Activity> stopped, SemaphoreSlim ended)
    {
        var listener = new ActivityListener
        {
            ShouldListenTo = s => s.Name is "Commerce" or "Npgsql" or "Commerce.Postgres.Tests.Tracing",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = a =>
            {
                stopped.Enqueue(a);
                ended.Release();
            },
        };
        ActivitySource.AddActivityListener(listener);
        return listener;
    }
}
