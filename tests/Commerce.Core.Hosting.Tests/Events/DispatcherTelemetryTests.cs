using System.Collections.Concurrent;
using System.Diagnostics;
using Commerce.Events;
using Commerce.Hosting.Tests.Support;
using Commerce.Storage;

namespace Commerce.Hosting.Tests.Events;

/// <summary>What the dispatcher measures and traces, on the library's meter and activity source.</summary>
public sealed class DispatcherTelemetryTests
{
    private static WalletCharged Charged(long user, int minute) =>
        new(new UserId(user), new Money(100), new Money(100 * minute), ObservedTimeProvider.Origin.AddMinutes(minute));

    [Fact]
    public async Task Each_handled_event_is_counted_by_handler_and_type_with_its_lag_from_the_events_time()
    {
        var store = new FakeEventStore();
        store.Append([Charged(1, 1), Charged(2, 2), Charged(3, 3)]);
        await using var host = new DispatcherHost(store, b => b.AddEventHandler<HandlerA>("mailer"));
        host.Time.Fake.Advance(TimeSpan.FromHours(1));
        await host.StartAsync();
        await store.Until(() => Equals(store.Checkpoint("mailer"), store.End));

        var handled = host.Meters.Of("commerce.events.handled");
        Assert.Equal(3, handled.Sum(m => m.Value));
        Assert.All(handled, m => Assert.Equal(new Dictionary<string, string?> { ["commerce.event.handler"] = "mailer", ["commerce.event.type"] = "WalletCharged" }, m.Tags));
        var lags = host.Meters.Of("commerce.event.delivery.lag");
        Assert.Equal([3540d, 3480d, 3420d], lags.Select(m => m.Value));
        Assert.All(lags, m => Assert.Equal("mailer", m.Tags["commerce.event.handler"]));
        Assert.Equal("s", host.Meters.Measurements.First(m => m.Instrument == "commerce.event.delivery.lag").Unit);
        Assert.Empty(host.Meters.Of("commerce.events.handler_failures"));
        Assert.Empty(host.Meters.Of("commerce.events.poison"));
    }

    [Theory]
    [InlineData(PoisonEventPolicy.Skip, "skip")]
    [InlineData(PoisonEventPolicy.Stop, "stop")]
    public async Task Every_failed_call_is_counted_with_its_exception_type_and_a_poison_event_once_with_the_policy(PoisonEventPolicy policy, string tag)
    {
        var store = new FakeEventStore();
        var events = store.Append([Charged(1, 1), Charged(2, 2), Charged(3, 3)]);
        await using var host = new DispatcherHost(store, b => b.AddEventHandler<HandlerA>("indexer"), o =>
        {
            o.MaxDeliveryAttempts = 3;
            o.PoisonEventPolicy = policy;
        });
        host.A.Behavior = (e, _, _) => e == events[1] ? throw new InvalidOperationException("poison") : ValueTask.CompletedTask;
        await host.StartAsync();

        await host.Time.AdvanceToNextTimerAsync();
        await host.Time.AdvanceToNextTimerAsync();
        await store.Until(() => host.Meters.Of("commerce.events.poison").Count == 1
            && (policy == PoisonEventPolicy.Stop || Equals(store.Checkpoint("indexer"), store.End)));

        var failures = host.Meters.Of("commerce.events.handler_failures");
        Assert.Equal(3, failures.Count);
        Assert.All(failures, m => Assert.Equal(
            new Dictionary<string, string?> { ["commerce.event.handler"] = "indexer", ["commerce.event.type"] = "WalletCharged", ["error.type"] = "System.InvalidOperationException" },
            m.Tags));
        var poison = Assert.Single(host.Meters.Of("commerce.events.poison"));
        Assert.Equal(tag, poison.Tags["commerce.event.poison_policy"]);
        Assert.Equal(policy == PoisonEventPolicy.Skip ? 2 : 1, host.Meters.Of("commerce.events.handled").Sum(m => m.Value));
    }

    [Fact]
    public async Task The_events_a_purge_removed_are_counted()
    {
        var store = new FakeEventStore { PurgeCount = 42 };
        await store.SaveCheckpointAsync("projector", EventCursor.Parse("0:5"));
        await using var host = new DispatcherHost(store, b => b.AddEventHandler<HandlerA>("projector"), o =>
        {
            o.EventRetention = TimeSpan.FromDays(7);
            o.PurgeInterval = TimeSpan.FromMinutes(30);
        });
        await host.StartAsync();

        await host.Time.AdvanceToNextTimerAsync();
        await store.Until(() => host.Meters.Of("commerce.events.purged").Count == 1);
        Assert.Equal(42, Assert.Single(host.Meters.Of("commerce.events.purged")).Value);
    }

    [Fact]
    public async Task Each_handler_call_is_a_consumer_span_of_its_own_trace_tagged_with_the_handler_event_and_position_and_a_failed_one_ends_in_error()
    {
        var stopped = new ConcurrentQueue<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name is CommerceDiagnostics.ActivitySourceName or "Commerce.Hosting.Tests",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = activity =>
            {
                if (activity.GetTagItem("commerce.event.handler") as string == "traced")
                {
                    stopped.Enqueue(activity);
                }
            },
        };
        ActivitySource.AddActivityListener(listener);

        var store = new FakeEventStore();
        var events = store.Append([Charged(1, 1), Charged(2, 2)]);
        await using var host = new DispatcherHost(store, b => b.AddEventHandler<HandlerA>("traced"));
        var failure = new InvalidOperationException("once");
        host.A.Behavior = (e, attempt, _) => e == events[1] && attempt == 1 ? throw failure : ValueTask.CompletedTask;
        using var source = new ActivitySource("Commerce.Hosting.Tests");
        using (var startedUnder = source.StartActivity("host start"))
        {
            Assert.NotNull(startedUnder);
            await host.StartAsync(); // the loops' spans must not join the trace that was current then
        }

        await host.Time.AdvanceToNextTimerAsync();
        await store.Until(() => Equals(store.Checkpoint("traced"), store.End) && stopped.Count == 3);

        var spans = stopped.ToArray();
        Assert.All(spans, span =>
        {
            Assert.Equal("commerce.handle_event", span.OperationName);
            Assert.Equal(ActivityKind.Consumer, span.Kind);
            Assert.Null(span.ParentId);
            Assert.Equal("WalletCharged", span.GetTagItem("commerce.event.type"));
        });
        Assert.Equal([events[0].Position.ToString(), events[1].Position.ToString(), events[1].Position.ToString()], spans.Select(s => s.GetTagItem("commerce.event.position")));
        Assert.Equal([ActivityStatusCode.Unset, ActivityStatusCode.Error, ActivityStatusCode.Unset], spans.Select(s => s.Status));
        Assert.Equal("System.InvalidOperationException", spans[1].GetTagItem("error.type"));
        Assert.Equal("exception", Assert.Single(spans[1].Events).Name);
    }
}
