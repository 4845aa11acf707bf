using Commerce.Events;
using Commerce.Hosting.Tests.Support;
using Commerce.Storage;
using Microsoft.Extensions.Logging;

namespace Commerce.Hosting.Tests.Events;

/// <summary>
/// The dispatcher on a store with consumer locks (<see cref="IEventConsumerLocks"/>), as host instances sharing one
/// database see it: <see cref="LockingEventStore"/> refuses any save made outside a lock, so every save these tests
/// see went through the handler's lock.
/// </summary>
public sealed class DispatcherLockTests
{
    private static readonly string A = typeof(HandlerA).FullName!;
    private static readonly string B = typeof(HandlerB).FullName!;

    private static CommerceEvent[] Charges(int count, int firstMinute = 1) =>
        [.. Enumerable.Range(firstMinute, count).Select(minute => (CommerceEvent)new WalletCharged(
            new UserId(minute % 5 + 1), new Money(100), new Money(100 * minute), ObservedTimeProvider.Origin.AddMinutes(minute)))];

    /// <summary>A host instance on the table's store, seeing it through <paramref name="store"/> (a fresh one unless given).</summary>
    private static DispatcherHost Instance(
        ConsumerLockTable table, Action<ICommerceBuilder> handlers, Action<CommerceEventDispatcherOptions>? configure = null, LockingEventStore? store = null) =>
        new(table.Store, handlers, configure, registered: store ?? new LockingEventStore(table));

    [Fact]
    public async Task Of_two_dispatchers_on_one_store_only_the_holder_of_a_handlers_lock_delivers_it_and_the_other_takes_over_from_its_checkpoint_when_it_stops()
    {
        var store = new FakeEventStore();
        var table = new ConsumerLockTable(store);
        var first = store.Append(Charges(5));
        await using var one = Instance(table, b => b.AddEventHandler<HandlerA>());
        await one.StartAsync();
        await store.Until(() => Equals(store.Checkpoint(A), store.End) && store.Waiting == 1);

        await using var two = Instance(table, b => b.AddEventHandler<HandlerA>(), o => o.LockRetryDelay = TimeSpan.FromSeconds(3));
        await two.StartAsync();
        await two.Time.TimerDueInAsync(TimeSpan.FromSeconds(3));
        var waiting = Assert.Single(two.Logs.WithId(1115));
        Assert.Equal(LogLevel.Information, waiting.Level);

        var second = store.Append(Charges(3, firstMinute: 10));
        await store.Until(() => Equals(store.Checkpoint(A), store.End) && store.Waiting == 1);
        Assert.Equal([.. first, .. second], one.A.Calls);
        Assert.Empty(two.A.Calls);

        // The first stops: its loop releases the lock as it ends.
        await one.StopAsync();
        Assert.Null(table.Holder(A));
        Assert.True(table.Taken[0].Disposed);
        Assert.Equal(store.Saves.Count, table.Taken[0].Saves);

        var third = store.Append(Charges(2, firstMinute: 20));
        two.Time.Fake.Advance(TimeSpan.FromSeconds(3));
        await store.Until(() => Equals(store.Checkpoint(A), store.End));

        // From the checkpoint the first saved: nothing delivered twice, nothing missed.
        Assert.Equal(third, two.A.Calls);
        Assert.Single(two.Logs.WithId(1116));
        Assert.Same(two.Services.GetService(typeof(IEventStore)), table.Holder(A)!.Owner);
        Assert.Equal(2, table.Taken.Count);
    }

    [Fact]
    public async Task Each_handler_has_a_lock_of_its_own()
    {
        var store = new FakeEventStore();
        var table = new ConsumerLockTable(store);
        store.Append(Charges(2));
        await using var one = Instance(table, b => b.AddEventHandler<HandlerA>());
        await one.StartAsync();
        await store.Until(() => Equals(store.Checkpoint(A), store.End));

        // Another instance delivering B only is not held up by A's lock.
        await using var two = Instance(table, b => b.AddEventHandler<HandlerB>());
        await two.StartAsync();
        await store.Until(() => Equals(store.Checkpoint(B), store.End));

        Assert.Equal(2, two.B.Calls.Count);
        Assert.Empty(two.Logs.WithId(1115));
    }

    [Fact]
    public async Task A_dispatcher_that_lost_a_handlers_lock_saves_nothing_through_it_and_takes_it_again_before_delivering_from_the_saved_checkpoint()
    {
        var store = new FakeEventStore();
        var table = new ConsumerLockTable(store);
        var first = store.Append(Charges(3));
        await using var host = Instance(table, b => b.AddEventHandler<HandlerA>());
        await host.StartAsync();
        await store.Until(() => Equals(store.Checkpoint(A), store.End) && store.Waiting == 1);
        var saved = store.Checkpoint(A);

        // The connection that held the lock broke: the name is free, and the page handled next cannot be saved.
        table.Break(A);
        var second = store.Append(Charges(2, firstMinute: 10));
        await host.Time.TimerDueInAsync(TimeSpan.FromSeconds(1)); // the loop's back-off (RetryBaseDelay)

        Assert.Equal(saved, store.Checkpoint(A));
        Assert.Equal([.. first, .. second], host.A.Calls);
        var lost = Assert.Single(host.Logs.WithId(1117));
        Assert.Equal(LogLevel.Warning, lost.Level);
        Assert.IsType<EventConsumerLockLostException>(lost.Exception);
        Assert.True(table.Taken[0].Disposed);
        Assert.Empty(host.Logs.WithId(1106)); // not retried as a failed store call

        host.Time.Fake.Advance(TimeSpan.FromSeconds(1));
        await store.Until(() => Equals(store.Checkpoint(A), store.End));

        // At least once: the page the lost lock could not save is delivered again, under the new lock.
        Assert.Equal([.. first, .. second, .. second], host.A.Calls);
        Assert.Equal(2, table.Taken.Count);
        Assert.Same(table.Taken[1], table.Holder(A));
    }

    [Fact]
    public async Task A_failed_attempt_to_take_the_lock_is_retried_with_back_off()
    {
        var store = new FakeEventStore();
        var table = new ConsumerLockTable(store);
        var events = store.Append(Charges(2));
        var refusals = 1;
        var locking = new LockingEventStore(table)
        {
            LockFault = () => Interlocked.Decrement(ref refusals) >= 0 ? new StoreUnavailableException("down") : null,
        };
        await using var host = Instance(table, b => b.AddEventHandler<HandlerA>(), store: locking);
        await host.StartAsync();

        await host.Time.TimerDueInAsync(TimeSpan.FromSeconds(1));
        var failed = Assert.Single(host.Logs.WithId(1106));
        Assert.Contains("taking the handler's lock", failed.Message, StringComparison.Ordinal);
        Assert.Empty(host.A.Calls);

        host.Time.Fake.Advance(TimeSpan.FromSeconds(1));
        await store.Until(() => Equals(store.Checkpoint(A), store.End));
        Assert.Equal(events, host.A.Calls);
    }

    [Fact]
    public async Task What_a_handler_handled_is_saved_through_its_lock_when_the_host_stops_and_the_lock_is_then_released()
    {
        var store = new FakeEventStore();
        var table = new ConsumerLockTable(store);
        var events = store.Append(Charges(3));
        var refusedSaves = 0;
        var storeDown = 1;
        store.Fault = operation => operation == "save" && Volatile.Read(ref storeDown) == 1
            ? new InvalidOperationException($"save refused ({Interlocked.Increment(ref refusedSaves)})")
            : null;
        await using var host = Instance(table, b => b.AddEventHandler<HandlerA>());
        await host.StartAsync();
        await store.Until(() => Volatile.Read(ref refusedSaves) >= 1);
        Assert.Equal(events, host.A.Calls);

        Volatile.Write(ref storeDown, 0);
        await host.StopAsync();

        Assert.Equal(store.End, store.Checkpoint(A));
        Assert.Equal(1, table.Taken[0].Saves);
        Assert.True(table.Taken[0].Disposed);
        Assert.Null(table.Holder(A));
    }

    [Fact]
    public async Task A_lock_that_fails_to_release_is_logged_and_the_loop_still_ends()
    {
        var store = new FakeEventStore();
        var table = new ConsumerLockTable(store);
        store.Append(Charges(2));
        await using var host = Instance(table, b => b.AddEventHandler<HandlerA>());
        await host.StartAsync();
        await store.Until(() => Equals(store.Checkpoint(A), store.End) && store.Waiting == 1);

        table.ReleaseFault = new InvalidOperationException("unlock failed");
        await host.StopAsync();

        var failed = Assert.Single(host.Logs.WithId(1118));
        Assert.Equal(LogLevel.Warning, failed.Level);
        Assert.Same(table.ReleaseFault, failed.Exception);
        Assert.True(table.Taken[0].Disposed);
        Assert.Equal(store.End, store.Checkpoint(A));
    }

    [Fact]
    public async Task A_dispatcher_stopped_while_another_holds_the_lock_ends_without_taking_it_or_saving()
    {
        var store = new FakeEventStore();
        var table = new ConsumerLockTable(store);
        store.Append(Charges(2));
        await using var one = Instance(table, b => b.AddEventHandler<HandlerA>());
        await one.StartAsync();
        await store.Until(() => Equals(store.Checkpoint(A), store.End));
        var saves = store.Saves.Count;

        await using var two = Instance(table, b => b.AddEventHandler<HandlerA>());
        await two.StartAsync();
        await two.Time.TimerDueInAsync(TimeSpan.FromSeconds(10)); // the default LockRetryDelay
        await two.StopAsync();

        Assert.Single(table.Taken);
        Assert.Same(table.Taken[0], table.Holder(A));
        Assert.Equal(saves, store.Saves.Count);
        Assert.Empty(two.A.Calls);
    }
}
