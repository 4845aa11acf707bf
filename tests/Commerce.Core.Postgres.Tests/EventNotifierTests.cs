using System.Collections.Concurrent;
using System.Reflection;
using Commerce.Events;
using Commerce.Postgres.Tests.Support;
using Commerce.Storage;
using Microsoft.Extensions.Time.Testing;
using Npgsql;

namespace Commerce.Postgres.Tests;

/// <summary>
/// Waiters are woken by a notification sent after the commits that appended events, in a transaction of
/// its own and coalesced (<see cref="PostgresEventNotifier"/>), never inside a commit: PostgreSQL
/// serializes notifying commits through their flush of the write-ahead log.
/// </summary>
public sealed class EventNotifierTests
{
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(30);

    /// <summary>A send that records each call and completes only when the test lets it.</summary>
    private sealed class GatedSend
    {
        private readonly ConcurrentQueue<TaskCompletionSource> _gates = new();

        public int Calls => _calls;

        public ConcurrentQueue<int> SignalsSeenAtStart { get; } = new();

        public int Signals;

        private int _calls;

        public Task SendAsync(CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _calls);
            SignalsSeenAtStart.Enqueue(Volatile.Read(ref Signals));
            var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            cancellationToken.Register(() => gate.TrySetCanceled(cancellationToken));
            _gates.Enqueue(gate);
            return gate.Task;
        }

        /// <summary>Completes the oldest send still open, once it has started.</summary>
        public async Task ReleaseAsync(Exception? failure = null)
        {
            TaskCompletionSource? gate;
            using var timeout = new CancellationTokenSource(Generous);
            while (!_gates.TryDequeue(out gate))
            {
                await Task.Yield();
                timeout.Token.ThrowIfCancellationRequested();
            }

            if (failure is null)
            {
                gate.SetResult();
            }
            else
            {
                gate.SetException(failure);
            }
        }
    }

    /// <summary>A notifier that spaces its sends by <paramref name="interval"/> on a fake clock.</summary>
    private static (GatedSend Send, FakeTimeProvider Time, PostgresEventNotifier Notifier) Spaced(TimeSpan interval)
    {
        var send = new GatedSend();
        var time = new FakeTimeProvider();
        return (send, time, new PostgresEventNotifier(send.SendAsync, minimumInterval: interval, time: time));
    }

    /// <summary>A <see cref="Spaced"/> notifier whose first send (for one signal) has completed, the clock not moved.</summary>
    private static async Task<(GatedSend Send, FakeTimeProvider Time, PostgresEventNotifier Notifier)> AfterOneSendAsync(TimeSpan interval)
    {
        var (send, time, notifier) = Spaced(interval);
        Interlocked.Increment(ref send.Signals);
        notifier.Signal();
        await send.ReleaseAsync();
        await UntilAsync(() => notifier.Sent == 1);
        return (send, time, notifier);
    }

    private static async Task UntilAsync(Func<bool> condition)
    {
        using var timeout = new CancellationTokenSource(Generous);
        while (!condition())
        {
            await Task.Yield();
            timeout.Token.ThrowIfCancellationRequested();
        }
    }

    [Fact]
    public async Task Signals_during_a_send_are_answered_by_exactly_one_more_send_after_it()
    {
        var send = new GatedSend();
        await using var notifier = new PostgresEventNotifier(send.SendAsync);

        Interlocked.Increment(ref send.Signals);
        notifier.Signal();
        await UntilAsync(() => send.Calls == 1);

        // Five more commits while the first notification is in flight.
        for (var i = 0; i < 5; i++)
        {
            Interlocked.Increment(ref send.Signals);
            notifier.Signal();
        }

        await send.ReleaseAsync();
        await UntilAsync(() => send.Calls == 2);
        Assert.Equal([1, 6], send.SignalsSeenAtStart); // the second started after every signal
        await send.ReleaseAsync();
        await UntilAsync(() => notifier.Sent == 2);
        Assert.Equal(2, send.Calls);

        // Idle again: the next signal sends again.
        notifier.Signal();
        await UntilAsync(() => send.Calls == 3);
        await send.ReleaseAsync();
        await UntilAsync(() => notifier.Sent == 3);
    }

    /// <summary>
    /// Npgsql's cancellation of a send on a connection that broke meanwhile may throw from its cancellation callback
    /// (seen once: ObjectDisposedException of a ManualResetEventSlim in PerformImmediateUserCancellation). Disposal
    /// cancelled the send all the same, and must end, not throw the callback's exception from the store's disposal.
    /// </summary>
    [Fact]
    public async Task Disposal_ends_when_the_send_in_flight_throws_from_its_cancellation_callback()
    {
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var notifier = new PostgresEventNotifier(async ct =>
        {
            using var registration = ct.Register(static () => throw new ObjectDisposedException("ManualResetEventSlim"));
            started.TrySetResult();
            await Task.Delay(Timeout.Infinite, ct);
        });
        notifier.Signal();
        await started.Task;

        await notifier.DisposeAsync();

        Assert.Equal(0, notifier.Sent);
    }

    [Fact]
    public async Task A_failed_send_is_counted_and_reported_and_the_next_signal_sends_again()
    {
        var send = new GatedSend();
        var reported = new ConcurrentQueue<Exception>();
        await using var notifier = new PostgresEventNotifier(send.SendAsync, reported.Enqueue);

        notifier.Signal();
        var lost = new NpgsqlException("connection lost");
        await send.ReleaseAsync(lost);
        await UntilAsync(() => notifier.Failed == 1);
        Assert.Same(lost, Assert.Single(reported));

        notifier.Signal();
        await send.ReleaseAsync();
        await UntilAsync(() => notifier.Sent == 1);
        Assert.Equal(2, send.Calls);
    }

    [Fact]
    public async Task Disposal_that_meets_a_signal_starting_its_send_looks_again_off_the_callers_SynchronizationContext()
    {
        // The store's synchronous Dispose blocks on this disposal: a look again posted to the caller's context (a UI
        // thread's, say) would wait for the very thread that waits for it.
        var notifier = new PostgresEventNotifier(_ => Task.CompletedTask);
        var state = typeof(PostgresEventNotifier).GetField("_state", BindingFlags.NonPublic | BindingFlags.Instance)!;
        state.SetValue(notifier, 1); // a signal took the sender's slot and has not published its send yet
        var context = new RecordingContext();
        var previous = SynchronizationContext.Current;
        Task disposing;
        SynchronizationContext.SetSynchronizationContext(context);
        try
        {
            disposing = notifier.DisposeAsync().AsTask();
        }
        finally
        {
            SynchronizationContext.SetSynchronizationContext(previous);
        }

        Assert.Equal(0, context.Posts);
        state.SetValue(notifier, 0); // the signal saw the stop and gave the slot up
        await disposing.WaitAsync(Generous);
    }

    /// <summary>A context whose posted work never runs, as that of a thread blocked in a synchronous Dispose.</summary>
    private sealed class RecordingContext : SynchronizationContext
    {
        private int _posts;

        public int Posts => Volatile.Read(ref _posts);

        public override void Post(SendOrPostCallback d, object? state) => Interlocked.Increment(ref _posts);

        public override void Send(SendOrPostCallback d, object? state) => Interlocked.Increment(ref _posts);
    }

    [Fact]
    public async Task Disposal_cancels_the_send_in_flight_waits_for_it_and_later_signals_send_nothing()
    {
        var send = new GatedSend();
        var reported = new ConcurrentQueue<Exception>();
        var notifier = new PostgresEventNotifier(send.SendAsync, reported.Enqueue);
        notifier.Signal();
        await UntilAsync(() => send.Calls == 1);
        notifier.Signal(); // promised after the one in flight: disposal drops it

        await notifier.DisposeAsync().AsTask().WaitAsync(Generous);
        notifier.Signal();

        Assert.Equal(1, send.Calls);
        Assert.Equal(1, notifier.Failed); // the send in flight, cancelled
        Assert.Empty(reported); // a cancellation by disposal is no failure to report
    }

    [Fact]
    public async Task With_an_interval_the_next_send_waits_until_the_interval_has_passed_since_the_last_one_started()
    {
        var interval = TimeSpan.FromMilliseconds(5);
        var (send, time, notifier) = Spaced(interval);
        await using var disposal = notifier;

        // The first send after a quiet spell goes at once.
        notifier.Signal();
        await UntilAsync(() => send.Calls == 1);
        Assert.Equal(0, notifier.Waits);
        time.Advance(TimeSpan.FromMilliseconds(2)); // the send takes 2 ms
        await send.ReleaseAsync();
        await UntilAsync(() => notifier.Sent == 1);

        // The next one waits for the rest of the interval, measured from the start of the first.
        notifier.Signal();
        await UntilAsync(() => notifier.Waits == 1);
        time.Advance(interval - TimeSpan.FromMilliseconds(2) - TimeSpan.FromTicks(1));
        Assert.Equal(1, send.Calls);
        time.Advance(TimeSpan.FromTicks(1));
        await UntilAsync(() => send.Calls == 2);
        await send.ReleaseAsync();
        await UntilAsync(() => notifier.Sent == 2);

        // Once the interval has passed, a signal sends at once again.
        time.Advance(interval);
        notifier.Signal();
        await UntilAsync(() => send.Calls == 3);
        Assert.Equal(1, notifier.Waits);
        await send.ReleaseAsync();
        await UntilAsync(() => notifier.Sent == 3);
    }

    [Fact]
    public async Task Signals_while_a_send_waits_for_the_interval_are_answered_by_that_one_send()
    {
        var interval = TimeSpan.FromMilliseconds(5);
        var (send, time, notifier) = await AfterOneSendAsync(interval);
        await using var disposal = notifier;

        // Five more commits, the first of which starts the wait: all of them are answered by the next send.
        for (var i = 0; i < 5; i++)
        {
            Interlocked.Increment(ref send.Signals);
            notifier.Signal();
            if (i == 0)
            {
                await UntilAsync(() => notifier.Waits == 1);
            }
        }

        time.Advance(interval);
        await UntilAsync(() => send.Calls == 2);
        await send.ReleaseAsync();
        await UntilAsync(() => notifier.Sent == 2);
        Assert.Equal([1, 6], send.SignalsSeenAtStart);

        // Nothing was left unanswered: no third send, however much time passes.
        time.Advance(interval * 10);
        Assert.Equal(2, send.Calls);
        Assert.Equal(1, notifier.Waits);
    }

    [Fact]
    public async Task Disposal_while_a_send_waits_for_the_interval_sends_nothing_more()
    {
        var (send, time, notifier) = await AfterOneSendAsync(TimeSpan.FromSeconds(1));
        notifier.Signal();
        await UntilAsync(() => notifier.Waits == 1);

        await notifier.DisposeAsync().AsTask().WaitAsync(Generous);
        time.Advance(TimeSpan.FromSeconds(2));
        notifier.Signal();

        Assert.Equal(1, send.Calls);
        Assert.Equal(0, notifier.Failed);
    }

    [Fact]
    public void A_negative_interval_is_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new PostgresEventNotifier(_ => Task.CompletedTask, minimumInterval: TimeSpan.FromTicks(-1)));
    }

    [Fact]
    public async Task Concurrent_signals_never_leave_a_signal_without_a_send_that_started_after_it()
    {
        var started = new ConcurrentQueue<long>();
        long clock = 0;
        await using var notifier = new PostgresEventNotifier(async _ =>
        {
            started.Enqueue(Interlocked.Increment(ref clock));
            await Task.Yield();
        });

        var lastSignal = new long[4];
        var threads = Enumerable.Range(0, 4).Select(t => new Thread(() =>
        {
            for (var i = 0; i < 2_000; i++)
            {
                lastSignal[t] = Interlocked.Increment(ref clock);
                notifier.Signal();
            }
        })).ToArray();
        foreach (var thread in threads)
        {
            thread.Start();
        }

        foreach (var thread in threads)
        {
            thread.Join();
        }

        // Every thread's last signal is followed by a send that started after it.
        await UntilAsync(() => started.Count > 0 && started.Max() > lastSignal.Max());
        Assert.True(notifier.Sent + notifier.Failed < 8_000, "Signals were not coalesced.");
    }

    [PostgresFact]
    public async Task A_commit_batch_with_events_notifies_no_one_in_its_own_transaction()
    {
        await using var shop = await PgShop.CreateAsync();
        var store = shop.Store;
        var changes = ChangeSets.Of(ChangeSets.Adjust(StoreKey.ForWallet(new UserId(1)), 5));
        changes.AddEvent(new WalletCharged(new UserId(1), new Money(5), new Money(5), PgShop.Start));

        using var batch = new NpgsqlBatch();
        Assert.True(PostgresCommitBatch.TryBuild(store, changes, batch, out _));

        var texts = batch.BatchCommands.Cast<NpgsqlBatchCommand>().Select(c => c.CommandText).ToList();
        Assert.Contains(store.Events.Append, texts);
        Assert.DoesNotContain(texts, text => text.Contains("pg_notify", StringComparison.Ordinal));
    }

    [PostgresFact]
    public async Task A_charge_is_followed_by_one_notification_on_the_schema_channel()
    {
        await using var shop = await PgShop.CreateAsync();
        var store = shop.Store;
        await using var listener = new NpgsqlConnection(PgShop.RequiredConnectionString);
        await listener.OpenAsync();
        var heard = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        listener.Notification += (_, e) => heard.TrySetResult(e.Channel);
        await using (var listen = new NpgsqlCommand(store.Events.Listen, listener))
        {
            await listen.ExecuteNonQueryAsync();
        }

        var before = store.Notifier.Sent;
        Assert.True((await shop.Wallets.ChargeAsync(new UserId(1), new Money(5))).IsSuccess);

        using var timeout = new CancellationTokenSource(Generous);
        while (!heard.Task.IsCompleted)
        {
            await listener.WaitAsync(timeout.Token);
        }

        Assert.Equal(store.Events.Channel, await heard.Task);
        await UntilAsync(() => store.Notifier.Sent > before);
    }
}
