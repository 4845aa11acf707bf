using Commerce.Events;
using Commerce.Hosting.Tests.Support;
using Commerce.Storage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Commerce.Hosting.Tests.Events;

public sealed class CommerceEventDispatcherTests
{
    private static readonly string A = typeof(HandlerA).FullName!;
    private static readonly string B = typeof(HandlerB).FullName!;

    /// <summary>A charge of user <paramref name="user"/>, committed <paramref name="minute"/> minutes after the clock's origin.</summary>
    private static WalletCharged Charged(long user, int minute) =>
        new(new UserId(user), new Money(100), new Money(100 * minute), ObservedTimeProvider.Origin.AddMinutes(minute));

    /// <summary><paramref name="count"/> charges spread over five users (and so over the stripes), one a minute.</summary>
    private static CommerceEvent[] Charges(int count, int firstMinute = 1) =>
        [.. Enumerable.Range(firstMinute, count).Select(minute => Charged(minute % 5 + 1, minute))];

    /// <summary>The page's first event alone, without a position (none a store gives): its delivery loop fails.</summary>
    private static EventPage WithoutPosition(EventPage page) => page with { Events = [page.Events[0] with { Position = default }] };

    private static EventCursor Through(IEnumerable<CommerceEvent> events) =>
        events.Aggregate(EventCursor.Start, (cursor, e) => cursor.Through(e.Position));

    [Fact]
    public async Task A_handler_gets_every_event_in_order_and_its_checkpoint_is_saved_after_each_page()
    {
        var store = new FakeEventStore();
        var events = store.Append(Charges(25));
        await using var host = new DispatcherHost(store, b => b.AddEventHandler<HandlerA>(), o => o.PageSize = 10);

        await host.StartAsync();
        await store.Until(() => Equals(store.Checkpoint(A), store.End));

        Assert.Equal(events, host.A.Calls);
        Assert.Equal([Through(events.Take(10)), Through(events.Take(20)), Through(events)], store.Saves.Select(s => s.Cursor));
        Assert.True(events.GroupBy(e => e.Stream).Count() > 1);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_host_that_publishes_no_events_says_so_once_when_the_dispatcher_starts(bool publishes)
    {
        var store = new FakeEventStore();
        var events = store.Append(Charges(3));
        await using var host = new DispatcherHost(store, b => b.AddEventHandler<HandlerA>(), commerce: o => o.PublishEvents = publishes);

        await host.StartAsync();
        await store.Until(() => store.Waiting == 1);

        // The handler still gets what the store holds (other hosts may publish into it).
        Assert.Equal(events, host.A.Calls);
        var said = host.Logs.WithId(1111);
        if (publishes)
        {
            Assert.Empty(said);
        }
        else
        {
            Assert.Equal(LogLevel.Information, Assert.Single(said).Level);
        }
    }

    [Fact]
    public async Task With_nothing_new_the_dispatcher_waits_on_the_feed_instead_of_polling_and_delivers_what_comes_next()
    {
        var store = new FakeEventStore();
        var first = store.Append(Charges(3));
        await using var host = new DispatcherHost(store, b => b.AddEventHandler<HandlerA>());
        await host.StartAsync();

        await store.Until(() => store.Waiting == 1);
        Assert.Equal(2, store.Reads); // the page of three, then the empty read that led to the wait

        var next = store.Append(Charged(9, 10));
        await store.Until(() => Equals(store.Checkpoint(A), store.End));
        Assert.Equal([.. first, .. next], host.A.Calls);
    }

    [Fact]
    public async Task A_restarted_dispatcher_resumes_after_the_saved_checkpoint_without_gap_or_repeat()
    {
        var store = new FakeEventStore();
        var before = store.Append(Charges(5));
        await using (var first = new DispatcherHost(store, b => b.AddEventHandler<HandlerA>()))
        {
            await first.StartAsync();
            await store.Until(() => Equals(store.Checkpoint(A), store.End));
            Assert.Equal(before, first.A.Calls);
        }

        var after = store.Append(Charges(3, firstMinute: 20));
        await using var second = new DispatcherHost(store, b => b.AddEventHandler<HandlerA>());
        await second.StartAsync();
        await store.Until(() => Equals(store.Checkpoint(A), store.End));

        Assert.Equal(after, second.A.Calls);
    }

    [Fact]
    public async Task What_a_handler_handled_is_saved_when_the_host_stops_before_its_checkpoint_could_be()
    {
        var store = new FakeEventStore();
        var events = store.Append(Charges(3));
        var refusedSaves = 0;
        var storeDown = 1;
        store.Fault = operation => operation == "save" && Volatile.Read(ref storeDown) == 1
            ? new InvalidOperationException($"save refused ({Interlocked.Increment(ref refusedSaves)})")
            : null;
        await using var host = new DispatcherHost(store, b => b.AddEventHandler<HandlerA>());
        await host.StartAsync();

        // The page is handled, its save refused: the loop backs off, to save again later.
        await store.Until(() => Volatile.Read(ref refusedSaves) >= 1);
        Assert.Equal(events, host.A.Calls);
        Assert.Null(store.Checkpoint(A));

        // The store is back, and the host stops before the retry: the loop saves what it handled as it stops.
        Volatile.Write(ref storeDown, 0);
        await host.StopAsync();

        Assert.Equal(store.End, store.Checkpoint(A));
    }

    [Fact]
    public async Task A_dispatcher_disposed_without_a_stop_after_a_restart_saves_what_its_handler_handled_whatever_became_of_the_first_stop_token()
    {
        var store = new FakeEventStore();
        var first = store.Append(Charges(3));
        await using var host = new DispatcherHost(store, b => b.AddEventHandler<HandlerA>());
        await host.StartAsync();
        await store.Until(() => Equals(store.Checkpoint(A), store.End));

        // The first stop's token is cancelled once that stop is over (a caller's timeout that fires later).
        using (var firstStop = new CancellationTokenSource())
        {
            await host.Dispatcher.StopAsync(firstStop.Token);
            Assert.True(host.Dispatcher.ExecuteTask!.IsCompletedSuccessfully);
            await firstStop.CancelAsync();
        }

        // Started again, the handler handles the new events and their save is refused: the loop backs off.
        var refusedSaves = 0;
        var storeDown = 1;
        store.Fault = operation => operation == "save" && Volatile.Read(ref storeDown) == 1
            ? new InvalidOperationException($"save refused ({Interlocked.Increment(ref refusedSaves)})")
            : null;
        var second = store.Append(Charges(3, firstMinute: 20));
        await host.Dispatcher.StartAsync(CancellationToken.None);
        await store.Until(() => Volatile.Read(ref refusedSaves) >= 1);
        Assert.Equal([.. first, .. second], host.A.Calls);

        // The store is back, and the dispatcher is disposed without a second stop: the loop saves as it ends.
        Volatile.Write(ref storeDown, 0);
        host.Dispatcher.Dispose();
        await host.Dispatcher.ExecuteTask!;

        Assert.Equal(store.End, store.Checkpoint(A));
        Assert.Empty(host.Logs.WithId(1110));
    }

    /// <summary>
    /// A host whose container creates and disposes the store, with a handler that handled every event and whose save
    /// was refused: its loop backs off (on the fake clock, which the test does not advance) with progress to save as
    /// it ends. The store accepts saves again once this returns.
    /// </summary>
    private static async Task<DispatcherHost> HostWithUnsavedProgressAsync(FakeEventStore store, Action<CommerceEventDispatcherOptions>? configure = null)
    {
        store.Append(Charges(3));
        var refusedSaves = 0;
        store.Fault = operation => operation == "save"
            ? new InvalidOperationException($"save refused ({Interlocked.Increment(ref refusedSaves)})")
            : null;
        var host = new DispatcherHost(store, b => b.AddEventHandler<HandlerA>(), configure, ownsStore: true);
        await host.StartAsync();
        await store.Until(() => Volatile.Read(ref refusedSaves) >= 1);
        store.Fault = null;
        return host;
    }

    [Fact]
    public async Task A_container_disposed_without_a_stop_disposes_the_store_only_once_the_loops_saved_what_they_handled()
    {
        var store = new FakeEventStore();
        await using var host = await HostWithUnsavedProgressAsync(store);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        store.SaveGate = _ => release.Task;

        // The container disposes the dispatcher, then the store (created before it): the loop's save as it ends is
        // held until it is under way, or until it met the store disposed.
        var disposing = host.Services.DisposeAsync().AsTask();
        await store.Until(() => store.SavesInProgress == 1 || store.SavesAfterDispose > 0);
        release.SetResult();
        await disposing;

        Assert.Equal(0, store.SavesAfterDispose);
        Assert.True(store.IsDisposed);
        Assert.Equal(store.End, store.Checkpoint(A));
        Assert.Empty(host.Logs.WithId(1110));
    }

    [Fact]
    public async Task A_container_disposed_synchronously_without_a_stop_disposes_the_store_only_once_the_loops_saved_what_they_handled()
    {
        var store = new FakeEventStore();
        var bound = TimeSpan.FromSeconds(17);
        await using var host = await HostWithUnsavedProgressAsync(store, o => o.DisposeTimeout = bound);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        store.SaveGate = _ => release.Task;

        // Disposed on another thread, since Dispose blocks: the save is let go once the store is disposed (under the
        // save, or before it), or once the dispatcher waits for its loops (the timer of its bound is set).
        var disposing = Task.Run(host.Services.Dispose);
        await Task.WhenAny(store.Until(() => store.IsDisposed), host.Time.TimerDueInAsync(bound));
        release.SetResult();
        await disposing;

        Assert.Equal(0, store.SavesAfterDispose);
        Assert.True(store.IsDisposed);
        Assert.Equal(store.End, store.Checkpoint(A));
        Assert.Empty(host.Logs.WithId(1110));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_container_disposed_without_a_stop_disposes_a_handlers_singleton_dependency_only_once_the_handlers_call_has_ended(bool synchronously)
    {
        var store = new FakeEventStore();
        store.Append(Charges(1));
        var bound = TimeSpan.FromSeconds(17);
        var call = new HeldCall(store);
        await using var host = new DispatcherHost(store, b =>
        {
            b.Services.AddSingleton(call);
            b.Services.AddSingleton<Mailer>();
            b.AddEventHandler<MailingHandler>();
        }, o => o.DisposeTimeout = bound, ownsStore: true);
        await host.StartAsync();
        await store.Until(() => call.Entered);

        // The handler (scoped) and its singleton dependency were created after the dispatcher, and so are disposed
        // before it by the container, unless the dispatcher ends its loops first. The call heeds no token: it is let
        // go once the dependency is disposed, or once the dispatcher waits for its loops (the timer of its bound is set).
        // Disposed synchronously, on another thread, since Dispose blocks.
        var mailer = host.Services.GetRequiredService<Mailer>();
        try
        {
            var disposing = synchronously ? Task.Run(host.Services.Dispose) : host.Services.DisposeAsync().AsTask();
            await Task.WhenAny(store.Until(() => mailer.IsDisposed), host.Time.TimerDueInAsync(bound));
            Assert.False(mailer.IsDisposed, "The handler's singleton dependency was disposed while the handler's call was under way.");
            call.Release.SetResult();
            await disposing;
        }
        finally
        {
            call.Release.TrySetResult();
        }

        Assert.False(call.SawDisposed);
        Assert.True(mailer.IsDisposed);
        Assert.Equal(store.End, store.Checkpoint(typeof(MailingHandler).FullName!));
        Assert.Empty(host.Logs.WithId(1112));
    }

    [Fact]
    public async Task A_container_disposed_without_a_stop_disposes_a_handler_the_host_registered_as_a_singleton_only_once_its_call_has_ended()
    {
        var store = new FakeEventStore();
        store.Append(Charges(1));
        var bound = TimeSpan.FromSeconds(17);
        var call = new HeldCall(store);
        await using var host = new DispatcherHost(store, b =>
        {
            b.Services.AddSingleton(call);
            b.Services.AddSingleton<Mailer>();
            b.Services.AddSingleton<DisposableHandler>();
            b.AddEventHandler<DisposableHandler>();
        }, o => o.DisposeTimeout = bound, ownsStore: true);
        await host.StartAsync();
        await store.Until(() => call.Entered);

        // The handler itself, created after the dispatcher, would be disposed before it.
        var handler = host.Services.GetRequiredService<DisposableHandler>();
        try
        {
            var disposing = host.Services.DisposeAsync().AsTask();
            await Task.WhenAny(store.Until(() => handler.IsDisposed), host.Time.TimerDueInAsync(bound));
            Assert.False(handler.IsDisposed, "The handler was disposed while its call was under way.");
            call.Release.SetResult();
            await disposing;
        }
        finally
        {
            call.Release.TrySetResult();
        }

        Assert.True(handler.IsDisposed);
        Assert.Equal(store.End, store.Checkpoint(typeof(DisposableHandler).FullName!));
    }

    /// <summary>A handler that the container disposes asynchronously, registered by the host as a singleton.</summary>
    private sealed class DisposableHandler(Mailer mailer, HeldCall call, FakeEventStore store) : ICommerceEventHandler, IAsyncDisposable
    {
        private volatile bool _disposed;

        public bool IsDisposed => _disposed;

        public ValueTask HandleAsync(CommerceEvent @event, CancellationToken cancellationToken) => call.RunAsync(mailer);

        public ValueTask DisposeAsync()
        {
            _disposed = true;
            store.Changed();
            return ValueTask.CompletedTask;
        }
    }

    /// <summary>A singleton a handler depends on, created by the container (which disposes it).</summary>
    private sealed class Mailer(FakeEventStore store) : IDisposable
    {
        private volatile bool _disposed;

        public bool IsDisposed => _disposed;

        public void Dispose()
        {
            _disposed = true;
            store.Changed();
        }
    }

    /// <summary>Holds <see cref="MailingHandler"/>'s call, heeding no token, until released; says whether the call met its dependency disposed.</summary>
    private sealed class HeldCall(FakeEventStore store)
    {
        private volatile bool _entered;

        public TaskCompletionSource Release { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public bool Entered => _entered;

        public bool SawDisposed { get; set; }

        public async ValueTask RunAsync(Mailer mailer)
        {
            _entered = true;
            store.Changed();
            await Release.Task;
            SawDisposed = mailer.IsDisposed;
        }
    }

    /// <summary>A handler registered by the dispatcher's default (scoped) with a singleton dependency.</summary>
    private sealed class MailingHandler(Mailer mailer, HeldCall call) : ICommerceEventHandler
    {
        public ValueTask HandleAsync(CommerceEvent @event, CancellationToken cancellationToken) => call.RunAsync(mailer);
    }

    [Fact]
    public async Task A_dispose_without_a_stop_waits_for_a_save_that_does_not_end_no_longer_than_its_timeout_and_says_so()
    {
        var store = new FakeEventStore();
        var bound = TimeSpan.FromSeconds(17);
        await using var host = await HostWithUnsavedProgressAsync(store, o => o.DisposeTimeout = bound);
        var unanswered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        try
        {
            // A store that stopped answering, and does not heed the save's token either.
            store.SaveGate = _ => unanswered.Task;
            var disposing = host.Services.DisposeAsync().AsTask();
            await store.Until(() => store.SavesInProgress == 1 || store.IsDisposed);
            Assert.False(store.IsDisposed, "The store was disposed while the loop's save was under way.");
            Assert.False(disposing.IsCompleted, "The dispose returned while the loop's save was under way.");

            // The dispose waits on the registered clock: once its timeout has passed, it returns and says so.
            await host.Time.TimerDueInAsync(bound);
            host.Time.Fake.Advance(bound);
            await disposing;

            var warning = Assert.Single(host.Logs.WithId(1112));
            Assert.Equal(LogLevel.Warning, warning.Level);
            Assert.Contains("00:00:17", warning.Message, StringComparison.Ordinal);
            Assert.True(store.IsDisposed);
        }
        finally
        {
            // The save answers at last, to a disposed store: the loop ends.
            unanswered.TrySetResult();
            if (host.Dispatcher.ExecuteTask is { } loops)
            {
                await loops;
            }
        }
    }

    [Fact]
    public async Task A_save_made_as_a_dispose_without_a_stop_ends_the_loops_is_told_to_give_up_once_the_dispose_timeout_has_passed()
    {
        var store = new FakeEventStore();
        var bound = TimeSpan.FromSeconds(17);
        await using var host = await HostWithUnsavedProgressAsync(store, o => o.DisposeTimeout = bound);
        var unanswered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        try
        {
            // A store that stopped answering, but heeds the save's token.
            store.SaveGate = cancellationToken => unanswered.Task.WaitAsync(cancellationToken);
            var disposing = host.Services.DisposeAsync().AsTask();
            await store.Until(() => store.SavesInProgress == 1);
            await host.Time.TimerDueInAsync(bound);
            host.Time.Fake.Advance(bound);
            await disposing;

            // The save's token is cancelled at the timeout: the loop ends, saying what will be delivered again.
            await store.Until(() => host.Logs.WithId(1110).Count > 0);
            var unsaved = Assert.Single(host.Logs.WithId(1110));
            Assert.IsAssignableFrom<OperationCanceledException>(unsaved.Exception);
            await host.Dispatcher.ExecuteTask!;
            Assert.Null(store.Checkpoint(A));
            Assert.Equal(0, store.SavesAfterDispose);
        }
        finally
        {
            unanswered.TrySetResult();
        }
    }

    [Fact]
    public async Task Loops_ended_by_the_token_their_start_was_given_save_what_they_handled_within_the_dispose_timeout()
    {
        var store = new FakeEventStore();
        store.Append(Charges(3));
        var bound = TimeSpan.FromSeconds(17);
        var refusedSaves = 0;
        store.Fault = operation => operation == "save"
            ? new InvalidOperationException($"save refused ({Interlocked.Increment(ref refusedSaves)})")
            : null;
        await using var host = new DispatcherHost(store, b => b.AddEventHandler<HandlerA>(), o => o.DisposeTimeout = bound, ownsStore: true);
        using var start = new CancellationTokenSource();
        await host.Dispatcher.StartAsync(start.Token);
        await store.Until(() => Volatile.Read(ref refusedSaves) >= 1);
        store.Fault = null;
        var unanswered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var saveToken = new TaskCompletionSource<CancellationToken>(TaskCreationOptions.RunContinuationsAsynchronously);
        try
        {
            // A store that stopped answering, but heeds the save's token.
            store.SaveGate = cancellationToken =>
            {
                saveToken.TrySetResult(cancellationToken);
                return unanswered.Task.WaitAsync(cancellationToken);
            };

            // The start's token is cancelled, with no stop or dispose: the loop ends as on a stop, and saves as it ends.
            await start.CancelAsync();
            Assert.True((await saveToken.Task.WaitAsync(TimeSpan.FromSeconds(10))).CanBeCanceled, "The save as the loop ended was given no bound.");

            // The save gives up once the dispose timeout has passed (by the registered clock), and the loop ends.
            await host.Time.TimerDueInAsync(bound);
            host.Time.Fake.Advance(bound);
            await host.Dispatcher.ExecuteTask!.WaitAsync(TimeSpan.FromSeconds(10));
            Assert.IsAssignableFrom<OperationCanceledException>(Assert.Single(host.Logs.WithId(1110)).Exception);
            Assert.Null(store.Checkpoint(A));
        }
        finally
        {
            unanswered.TrySetResult();
        }
    }

    [Fact]
    public async Task A_save_that_gives_up_as_the_dispose_timeout_passes_is_not_said_to_outlive_the_dispose()
    {
        var store = new FakeEventStore();
        var events = store.Append(Charges(3));
        var bound = TimeSpan.FromSeconds(17);
        var refusedSaves = 0;
        store.Fault = operation => operation == "save"
            ? new InvalidOperationException($"save refused ({Interlocked.Increment(ref refusedSaves)})")
            : null;
        await using var host = new DispatcherHost(store, b => b.AddEventHandler<HandlerA>(), o => o.DisposeTimeout = bound, ownsStore: true);
        using var saveUnderWay = new ManualResetEventSlim();
        host.A.Behavior = (e, _, cancellationToken) =>
        {
            // Run on the disposing thread as the dispose ends the loops: holds it there until the loop's save as it
            // ends is under way (as a thread taken off the processor there would), 10 s at most as a safety net.
            if (e.Equals(events[0]))
            {
                cancellationToken.Register(() => saveUnderWay.Wait(TimeSpan.FromSeconds(10)));
            }

            return ValueTask.CompletedTask;
        };
        await host.StartAsync();
        await store.Until(() => Volatile.Read(ref refusedSaves) >= 1);
        store.Fault = null;
        var unanswered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        bool? storeDisposedAsSaveEnded = null;
        try
        {
            // A store that stopped answering, but heeds the save's token: the save gives up as the timeout passes.
            store.SaveGate = async cancellationToken =>
            {
                var answer = unanswered.Task.WaitAsync(cancellationToken);
                saveUnderWay.Set();
                try
                {
                    await answer;
                }
                finally
                {
                    storeDisposedAsSaveEnded = store.IsDisposed;
                }
            };
            var disposing = host.Services.DisposeAsync().AsTask();
            await store.Until(() => store.SavesInProgress == 1);
            await host.Time.TimerDueInAsync(bound);
            host.Time.Fake.Advance(bound);
            await disposing;

            // The save was told to give up, and had returned, before the dispose was over and the container disposed
            // the store: nothing of the loop outlived the dispose, and no warning says so.
            await AssertTheSaveGaveUpWithinTheDisposeAsync(host, store, storeDisposedAsSaveEnded);
        }
        finally
        {
            saveUnderWay.Set();
            unanswered.TrySetResult();
        }
    }

    [Fact]
    public async Task A_save_that_gives_up_as_the_stops_time_runs_out_during_a_dispose_is_not_said_to_outlive_the_dispose()
    {
        var store = new FakeEventStore();
        await using var host = await HostWithUnsavedProgressAsync(store);
        var unanswered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        bool? storeDisposedAsSaveEnded = null;
        using var stopTime = new CancellationTokenSource();
        try
        {
            store.SaveGate = async cancellationToken =>
            {
                try
                {
                    await unanswered.Task.WaitAsync(cancellationToken);
                }
                finally
                {
                    storeDisposedAsSaveEnded = store.IsDisposed;
                }
            };

            // The host stops the dispatcher: the loop's save as it ends is under way, bounded by the stop's time. The
            // container is disposed meanwhile, and the stop's time runs out during the dispose's wait.
            var stopping = host.Dispatcher.StopAsync(stopTime.Token);
            await store.Until(() => store.SavesInProgress == 1);
            var disposing = host.Services.DisposeAsync().AsTask();
            await host.Time.TimerDueInAsync(TimeSpan.FromSeconds(30));
            await stopTime.CancelAsync();
            await disposing;
            await stopping;

            await AssertTheSaveGaveUpWithinTheDisposeAsync(host, store, storeDisposedAsSaveEnded);
        }
        finally
        {
            unanswered.TrySetResult();
        }
    }

    /// <summary>
    /// A save told to give up during the container's dispose returned before the store was disposed, so no warning says
    /// it outlived the dispose (1112): the loop ended cancelled (1110), and nothing was saved after the dispose.
    /// </summary>
    private static async Task AssertTheSaveGaveUpWithinTheDisposeAsync(DispatcherHost host, FakeEventStore store, bool? storeDisposedAsSaveEnded)
    {
        Assert.False(storeDisposedAsSaveEnded, "The store was disposed before the save, told to give up, had returned.");
        Assert.Empty(host.Logs.WithId(1112));
        await host.Dispatcher.ExecuteTask!.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.IsAssignableFrom<OperationCanceledException>(Assert.Single(host.Logs.WithId(1110)).Exception);
        Assert.Equal(0, store.SavesAfterDispose);
    }

    [Fact]
    public async Task A_save_bounded_by_a_first_stop_is_told_to_give_up_when_that_stops_time_runs_out_whatever_a_second_stop_gives()
    {
        var store = new FakeEventStore();
        await using var host = await HostWithUnsavedProgressAsync(store);
        var unanswered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var firstStopTime = new CancellationTokenSource();
        try
        {
            // A store that stopped answering, but heeds the save's token.
            store.SaveGate = cancellationToken => unanswered.Task.WaitAsync(cancellationToken);
            var first = host.Dispatcher.StopAsync(firstStopTime.Token);
            await store.Until(() => store.SavesInProgress == 1);

            // A second stop, with all the time it wants, does not lift the first one's bound on the save under way.
            var second = host.Dispatcher.StopAsync(CancellationToken.None);
            await firstStopTime.CancelAsync();
            await first;
            await second.WaitAsync(TimeSpan.FromSeconds(10));

            Assert.IsAssignableFrom<OperationCanceledException>(Assert.Single(host.Logs.WithId(1110)).Exception);
            Assert.Null(store.Checkpoint(A));
        }
        finally
        {
            unanswered.TrySetResult();
        }
    }

    [Fact]
    public async Task A_stop_called_after_a_dispose_whose_wait_ran_out_lets_no_loop_save_against_the_disposed_store()
    {
        var store = new FakeEventStore();
        var events = store.Append(Charges(3));
        var bound = TimeSpan.FromSeconds(17);
        await using var host = new DispatcherHost(store, b => b.AddEventHandler<HandlerA>(), o => o.DisposeTimeout = bound, ownsStore: true);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        host.A.Behavior = async (e, _, _) =>
        {
            // A handler that heeds no token, on the page's second event: the first is handled, not yet saved.
            if (e.Equals(events[1]))
            {
                await release.Task;
            }
        };
        await host.StartAsync();
        await store.Until(() => host.A.Calls.Count == 2);

        // The dispose's wait runs out with the handler still in its call: the container disposes the store.
        var disposing = host.Services.DisposeAsync().AsTask();
        await host.Time.TimerDueInAsync(bound);
        host.Time.Fake.Advance(bound);
        await disposing;
        Assert.Single(host.Logs.WithId(1112));
        Assert.True(store.IsDisposed);

        // A stop after it (with no time limit) and then the handler returns: the loop ends, and its save is not made.
        var stopping = host.Dispatcher.StopAsync(CancellationToken.None);
        release.SetResult();
        await stopping;

        Assert.Equal(0, store.SavesAfterDispose);
        var unsaved = Assert.Single(host.Logs.WithId(1110));
        Assert.IsAssignableFrom<OperationCanceledException>(unsaved.Exception);
    }

    [Fact]
    public async Task A_checkpoint_the_host_stopped_before_it_could_be_saved_is_logged_with_what_will_be_delivered_again()
    {
        var store = new FakeEventStore();
        var events = store.Append(Charges(3));
        await store.SaveCheckpointAsync(A, Through(events.Take(1)));
        store.Fault = operation => operation == "save" ? new StoreUnavailableException("save refused") : null;
        await using var host = new DispatcherHost(store, b => b.AddEventHandler<HandlerA>());
        await host.StartAsync();
        await store.Until(() => host.Logs.WithId(1106).Count >= 1);

        await host.StopAsync();

        // The saved checkpoint, and the one the host stopped before saving: the events between come again.
        var unsaved = Assert.Single(host.Logs.WithId(1110));
        Assert.Equal(LogLevel.Warning, unsaved.Level);
        Assert.IsType<StoreUnavailableException>(unsaved.Exception);
        Assert.Contains(A, unsaved.Message, StringComparison.Ordinal);
        Assert.Contains($"'{Through(events.Take(1))}'", unsaved.Message, StringComparison.Ordinal);
        Assert.Contains($"'{Through(events)}'", unsaved.Message, StringComparison.Ordinal);
        Assert.Equal(Through(events.Take(1)), store.Checkpoint(A));
    }

    [Fact]
    public async Task A_handler_starts_after_a_checkpoint_saved_before()
    {
        var store = new FakeEventStore();
        var events = store.Append(Charges(6));
        await store.SaveCheckpointAsync("mine", Through(events.Take(4)));
        await using var host = new DispatcherHost(store, b => b.AddEventHandler<HandlerA>("mine"));

        await host.StartAsync();
        await store.Until(() => Equals(store.Checkpoint("mine"), store.End));

        Assert.Equal(events.Skip(4), host.A.Calls);
    }

    [Fact]
    public async Task A_failing_handler_is_retried_with_doubling_back_off_while_another_handler_goes_on()
    {
        var store = new FakeEventStore();
        var events = store.Append(Charges(4));
        await using var host = new DispatcherHost(store, b => b.AddEventHandler<HandlerA>().AddEventHandler<HandlerB>(),
            o => o.MaxRetryDelay = TimeSpan.FromSeconds(3));
        var failure = new InvalidOperationException("boom");
        host.A.Behavior = (e, attempt, _) => e == events[1] && attempt <= 3 ? throw failure : ValueTask.CompletedTask;
        await host.StartAsync();

        // A waits to retry its second event; B has every event meanwhile.
        var first = await host.Time.NextTimerAsync();
        await store.Until(() => Equals(store.Checkpoint(B), store.End));
        Assert.Equal(events, host.B.Calls);
        Assert.Equal([events[0], events[1]], host.A.Calls);
        Assert.Equal(Through(events.Take(1)), store.Checkpoint(A)); // the progress before the failure is kept

        host.Time.Fake.Advance(first);
        var second = await host.Time.AdvanceToNextTimerAsync();
        var third = await host.Time.AdvanceToNextTimerAsync();
        await store.Until(() => Equals(store.Checkpoint(A), store.End));

        Assert.Equal([TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(3)], [first, second, third]);
        Assert.Equal([events[0], events[1], events[1], events[1], events[1], events[2], events[3]], host.A.Calls);
        var warnings = host.Logs.WithId(1103);
        Assert.Equal(3, warnings.Count);
        Assert.All(warnings, w => Assert.Equal(LogLevel.Warning, w.Level));
        Assert.All(warnings, w => Assert.Same(failure, w.Exception));
        Assert.Empty(host.Logs.WithId(1104));
    }

    [Fact]
    public async Task A_poison_event_is_logged_as_an_error_and_skipped_after_the_last_attempt()
    {
        var store = new FakeEventStore();
        var events = store.Append(Charges(4));
        await using var host = new DispatcherHost(store, b => b.AddEventHandler<HandlerA>(), o => o.MaxDeliveryAttempts = 3);
        var failure = new InvalidOperationException("poison");
        host.A.Behavior = (e, _, _) => e == events[1] ? throw failure : ValueTask.CompletedTask;
        await host.StartAsync();

        await host.Time.AdvanceToNextTimerAsync();
        await host.Time.AdvanceToNextTimerAsync();
        await store.Until(() => Equals(store.Checkpoint(A), store.End));

        Assert.Equal([events[0], events[1], events[1], events[1], events[2], events[3]], host.A.Calls);
        var poison = Assert.Single(host.Logs.WithId(1104));
        Assert.Equal(LogLevel.Error, poison.Level);
        Assert.Same(failure, poison.Exception);
        Assert.Contains(events[1].Position.ToString(), poison.Message, StringComparison.Ordinal);
        Assert.Contains(A, poison.Message, StringComparison.Ordinal);
        Assert.Equal(2, host.Logs.WithId(1103).Count);
    }

    [Fact]
    public async Task Under_the_Stop_policy_a_poison_event_stops_its_handler_only_and_keeps_its_checkpoint_before_the_event()
    {
        var store = new FakeEventStore();
        var events = store.Append(Charges(3));
        await using var host = new DispatcherHost(store, b => b.AddEventHandler<HandlerA>().AddEventHandler<HandlerB>(), o =>
        {
            o.MaxDeliveryAttempts = 2;
            o.PoisonEventPolicy = PoisonEventPolicy.Stop;
        });
        host.A.Behavior = (e, _, _) => e == events[1] ? throw new InvalidOperationException("poison") : ValueTask.CompletedTask;
        await host.StartAsync();

        await host.Time.AdvanceToNextTimerAsync();
        await store.Until(() => host.Logs.WithId(1105).Count == 1);
        Assert.Equal(LogLevel.Error, host.Logs.WithId(1105)[0].Level);
        Assert.Equal(Through(events.Take(1)), store.Checkpoint(A));

        var later = store.Append(Charged(7, 30));
        await store.Until(() => Equals(store.Checkpoint(B), store.End));
        Assert.Equal([.. events, .. later], host.B.Calls);
        Assert.Equal([events[0], events[1], events[1]], host.A.Calls);
        Assert.Equal(Through(events.Take(1)), store.Checkpoint(A));
    }

    [Fact]
    public async Task Store_failures_are_retried_with_back_off_and_nothing_is_delivered_twice()
    {
        var store = new FakeEventStore();
        var events = store.Append(Charges(3));
        int loads = 0, reads = 0, saves = 0;
        store.Fault = operation => operation switch
        {
            "load" when ++loads == 1 => new InvalidOperationException("load failed"),
            "read" when ++reads <= 2 => new StoreUnavailableException("read failed"),
            "save" when ++saves == 1 => new StoreUnavailableException("save failed"),
            _ => null,
        };
        await using var host = new DispatcherHost(store, b => b.AddEventHandler<HandlerA>());
        await host.StartAsync();

        var dues = new List<TimeSpan>();
        for (var i = 0; i < 4; i++)
        {
            dues.Add(await host.Time.AdvanceToNextTimerAsync());
        }

        await store.Until(() => Equals(store.Checkpoint(A), store.End));
        Assert.Equal([TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(1)], dues);
        Assert.Equal(events, host.A.Calls);
        Assert.Equal(4, host.Logs.WithId(1106).Count);
        Assert.False(host.Dispatcher.ExecuteTask!.IsCompleted);
    }

    [Fact]
    public async Task A_failing_wait_is_retried_too()
    {
        var store = new FakeEventStore();
        var waits = 0;
        store.Fault = operation => operation == "wait" && ++waits == 1 ? new StoreUnavailableException("wait failed") : null;
        await using var host = new DispatcherHost(store, b => b.AddEventHandler<HandlerA>());
        await host.StartAsync();

        Assert.Equal(TimeSpan.FromSeconds(1), await host.Time.AdvanceToNextTimerAsync());
        await store.Until(() => store.Waiting == 1);
        var events = store.Append(Charges(2));
        await store.Until(() => Equals(store.Checkpoint(A), store.End));
        Assert.Equal(events, host.A.Calls);
    }

    [Fact]
    public async Task An_unexpected_failure_of_a_loop_restarts_it_from_the_saved_checkpoint_after_a_back_off()
    {
        var store = new FakeEventStore();
        var events = store.Append(Charges(2));
        var tampered = 0;
        store.Tamper = page => ++tampered == 1 ? WithoutPosition(page) : page;
        await using var host = new DispatcherHost(store, b => b.AddEventHandler<HandlerA>());
        await host.StartAsync();

        Assert.Equal(TimeSpan.FromSeconds(1), await host.Time.AdvanceToNextTimerAsync());
        await store.Until(() => Equals(store.Checkpoint(A), store.End));

        var failure = Assert.Single(host.Logs.WithId(1108));
        Assert.Equal(LogLevel.Error, failure.Level);
        Assert.IsType<ArgumentOutOfRangeException>(failure.Exception);
        Assert.Equal([events[0] with { Position = default }, .. events], host.A.Calls);
        Assert.False(host.Dispatcher.ExecuteTask!.IsCompleted);
    }

    [Fact]
    public async Task A_host_stopping_while_a_failed_loop_backs_off_ends_the_loop_without_a_restart()
    {
        var store = new FakeEventStore();
        var events = store.Append(Charges(2));
        store.Tamper = WithoutPosition;
        await using var host = new DispatcherHost(store, b => b.AddEventHandler<HandlerA>());
        await host.StartAsync();

        // The loop failed and waits out its back-off; the host stops before it ends.
        Assert.Equal(TimeSpan.FromSeconds(1), await host.Time.NextTimerAsync());
        Assert.Single(host.Logs.WithId(1108));
        await host.StopAsync();

        Assert.True(host.Dispatcher.ExecuteTask!.IsCompletedSuccessfully);
        Assert.Equal([events[0] with { Position = default }], host.A.Calls);
        Assert.Single(host.Logs.WithId(1108));
        Assert.Null(store.Checkpoint(A));
    }

    [Fact]
    public async Task A_host_stopping_while_a_loop_retries_loading_its_checkpoint_ends_it_with_nothing_to_save()
    {
        var store = new FakeEventStore();
        store.Append(Charges(2));
        store.Fault = operation => operation == "load" ? new StoreUnavailableException("load failed") : null;
        await using var host = new DispatcherHost(store, b => b.AddEventHandler<HandlerA>());
        await host.StartAsync();

        // The load failed and waits to be retried; the host stops before it is.
        Assert.Equal(TimeSpan.FromSeconds(1), await host.Time.NextTimerAsync());
        await host.StopAsync();

        Assert.True(host.Dispatcher.ExecuteTask!.IsCompletedSuccessfully);
        Assert.Single(host.Logs.WithId(1106));
        Assert.Empty(host.Logs.WithId(1110)); // no progress, so no save at the stop
        Assert.Empty(host.A.Calls);
        Assert.Null(store.Checkpoint(A));
    }

    [Fact]
    public async Task A_loop_that_saved_progress_since_its_last_failure_backs_off_from_the_first_step_again()
    {
        var store = new FakeEventStore();
        store.Append(Charges(2));
        var pages = 0; // pages with events read so far
        store.Tamper = page => page.Events.Count > 0 && ++pages is 1 or 3 or 4 ? WithoutPosition(page) : page;
        await using var host = new DispatcherHost(store, b => b.AddEventHandler<HandlerA>());
        await host.StartAsync();

        // A failure, the first step of the back-off, then the page delivered and saved.
        Assert.Equal(TimeSpan.FromSeconds(1), await host.Time.AdvanceToNextTimerAsync());
        await store.Until(() => Equals(store.Checkpoint(A), store.End));

        // Two failures in a row, long after: the first step again, then the second.
        store.Append(Charges(2, firstMinute: 10));
        Assert.Equal(TimeSpan.FromSeconds(1), await host.Time.AdvanceToNextTimerAsync());
        Assert.Equal(TimeSpan.FromSeconds(2), await host.Time.AdvanceToNextTimerAsync());
        await store.Until(() => Equals(store.Checkpoint(A), store.End));
        Assert.Equal(3, host.Logs.WithId(1108).Count);
    }

    [Fact]
    public async Task A_scope_whose_dispose_throws_is_logged_and_the_events_handled_in_it_stay_handled()
    {
        var store = new FakeEventStore();
        var events = store.Append(Charges(5));
        await using var host = new DispatcherHost(store, b =>
        {
            b.Services.AddScoped<FragileDependency>();
            b.AddEventHandler<HandlerWithFragileDependency>();
        }, o => o.PageSize = 2);
        await host.StartAsync();
        await store.Until(() => Equals(store.Checkpoint(typeof(HandlerWithFragileDependency).FullName!), store.End));

        Assert.Equal(events, host.Services.GetRequiredService<ScopeLog>().Entries.Select(e => e.Event));
        Assert.Equal(3, host.Logs.WithId(1109).Count);
        Assert.All(host.Logs.WithId(1109), e => Assert.IsType<InvalidOperationException>(e.Exception));
        Assert.Empty(host.Logs.WithId(1108));
    }

    /// <summary>A scoped dependency whose dispose always throws.</summary>
    private sealed class FragileDependency : IDisposable
    {
        public void Dispose() => throw new InvalidOperationException("The dependency could not be disposed.");
    }

    private sealed class HandlerWithFragileDependency(FragileDependency dependency, ScopeLog log) : ICommerceEventHandler
    {
        private readonly Guid _instance = Guid.NewGuid();

        public ValueTask HandleAsync(CommerceEvent @event, CancellationToken cancellationToken)
        {
            GC.KeepAlive(dependency);
            log.Add(_instance, @event);
            return ValueTask.CompletedTask;
        }
    }

    [Fact]
    public async Task A_scope_whose_dispose_meets_the_container_disposed_without_a_stop_is_not_logged_as_a_failure()
    {
        var store = new FakeEventStore();
        store.Append(Charges(1));
        var call = new PoolCall();
        await using var host = new DispatcherHost(store, b =>
        {
            b.Services.AddSingleton(call);
            b.Services.AddScoped<PooledDependency>();
            b.Services.AddSingleton<DisposalGate>();
            b.AddEventHandler<HandlerHeldInItsCall>();
        });
        await host.StartAsync();
        await call.Entered.Task;

        // The container marks itself disposed, and disposes what it created after the dispatcher first: the pool the
        // scoped dependency returns its connection to on dispose among them (as the gate is).
        var gate = host.Services.GetRequiredService<DisposalGate>();
        var disposing = host.Services.DisposeAsync().AsTask();
        try
        {
            await gate.Entered.Task;
            call.PoolDisposed = true;
            call.Release.SetResult();
            await store.Until(() => host.Logs.Entries.Any(e => e.EventId.Id is 1109 or 1114));
        }
        finally
        {
            gate.Release.TrySetResult();
            call.Release.TrySetResult();
            await disposing;
        }

        Assert.DoesNotContain(host.Logs.Entries, e => e.Level >= LogLevel.Warning);
        var refused = Assert.Single(host.Logs.WithId(1114));
        Assert.Equal(LogLevel.Debug, refused.Level);
        Assert.IsType<ObjectDisposedException>(refused.Exception);
        Assert.True(host.Dispatcher.ExecuteTask!.IsCompletedSuccessfully);
    }

    /// <summary>Holds <see cref="HandlerHeldInItsCall"/>'s call until released; says whether the pool is disposed.</summary>
    private sealed class PoolCall
    {
        public TaskCompletionSource Entered { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource Release { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public volatile bool PoolDisposed;
    }

    /// <summary>A scoped dependency that returns its connection to a pool as it is disposed, which fails once the pool is.</summary>
    private sealed class PooledDependency(PoolCall call) : IDisposable
    {
        public void Dispose()
        {
            ObjectDisposedException.ThrowIf(call.PoolDisposed, typeof(PooledDependency));
        }
    }

    private sealed class HandlerHeldInItsCall(PooledDependency dependency, PoolCall call) : ICommerceEventHandler
    {
        public async ValueTask HandleAsync(CommerceEvent @event, CancellationToken cancellationToken)
        {
            GC.KeepAlive(dependency);
            call.Entered.TrySetResult();
            await call.Release.Task;
        }
    }

    [Fact]
    public async Task A_handler_that_cannot_be_resolved_is_tried_again_after_a_back_off_without_spending_delivery_attempts()
    {
        var store = new FakeEventStore();
        var events = store.Append(Charges(2));
        await using var host = new DispatcherHost(store, b =>
        {
            b.Services.AddSingleton(new ConstructionFailures(2));
            b.AddEventHandler<UnresolvableHandler>();
        }, o => o.MaxDeliveryAttempts = 1);
        await host.StartAsync();

        Assert.Equal(TimeSpan.FromSeconds(1), await host.Time.AdvanceToNextTimerAsync());
        Assert.Equal(TimeSpan.FromSeconds(2), await host.Time.AdvanceToNextTimerAsync());
        await store.Until(() => Equals(store.Checkpoint(typeof(UnresolvableHandler).FullName!), store.End));

        Assert.Equal(events, host.Services.GetRequiredService<ScopeLog>().Entries.Select(e => e.Event));
        Assert.Equal(2, host.Logs.WithId(1107).Count);
        Assert.All(host.Logs.WithId(1107), e => Assert.Equal(LogLevel.Error, e.Level));

        // Each names the event it holds back.
        Assert.All(host.Logs.WithId(1107), e => Assert.Contains($" at {events[0].Position}", e.Message, StringComparison.Ordinal));
        Assert.Empty(host.Logs.WithId(1104));
    }

    [Fact]
    public async Task A_resolution_failure_a_container_wraps_spends_no_delivery_attempt_and_is_counted_as_no_handler_failure()
    {
        var store = new FakeEventStore();
        var events = store.Append(Charges(2));
        await using var host = new DispatcherHost(store, b =>
        {
            b.Services.AddSingleton(new ConstructionFailures(2));
            b.Services.AddScoped(services => Wrapped(() => ActivatorUtilities.CreateInstance<UnresolvableHandler>(services)));
            b.AddEventHandler<UnresolvableHandler>();
        }, o => o.MaxDeliveryAttempts = 1);
        await host.StartAsync();

        Assert.Equal(TimeSpan.FromSeconds(1), await host.Time.AdvanceToNextTimerAsync());
        Assert.Equal(TimeSpan.FromSeconds(2), await host.Time.AdvanceToNextTimerAsync());
        await store.Until(() => Equals(store.Checkpoint(typeof(UnresolvableHandler).FullName!), store.End));

        // A configuration's fault, not the event's: logged as a resolution failure, with no attempt spent (the
        // single one allowed would make the event a poison event) and nothing counted against the handler.
        Assert.Equal(events, host.Services.GetRequiredService<ScopeLog>().Entries.Select(e => e.Event));
        Assert.Equal(2, host.Logs.WithId(1107).Count);
        Assert.All(host.Logs.WithId(1107), e => Assert.IsType<InvalidOperationException>(e.Exception!.InnerException));
        Assert.Empty(host.Logs.WithId(1103));
        Assert.Empty(host.Logs.WithId(1104));
        Assert.Empty(host.Meters.Of("commerce.events.handler_failures"));
        Assert.Empty(host.Meters.Of("commerce.events.poison"));
        Assert.Equal(events.Count, host.Meters.Of("commerce.events.handled").Count);
    }

    [Fact]
    public async Task The_handler_is_resolved_in_a_new_scope_for_each_page_by_default()
    {
        var store = new FakeEventStore();
        var events = store.Append(Charges(5));
        await using var host = new DispatcherHost(store, b => b.AddEventHandler<ScopedHandler>(), o => o.PageSize = 2);
        await host.StartAsync();
        await store.Until(() => Equals(store.Checkpoint(typeof(ScopedHandler).FullName!), store.End));

        var entries = host.Services.GetRequiredService<ScopeLog>().Entries;
        Assert.Equal(events, entries.Select(e => e.Event));
        Assert.Equal([2, 2, 1], entries.GroupBy(e => e.Instance).Select(g => g.Count()));
    }

    [Fact]
    public async Task Stopping_the_host_cancels_a_handler_call_and_ends_the_dispatcher_cleanly()
    {
        var store = new FakeEventStore();
        store.Append(Charges(2));
        await using var host = new DispatcherHost(store, b => b.AddEventHandler<HandlerA>());
        host.A.Behavior = async (_, _, ct) => await Task.Delay(Timeout.Infinite, ct);
        await host.StartAsync();
        await store.Until(() => host.A.Calls.Count == 1);

        await host.StopAsync();

        Assert.True(host.Dispatcher.ExecuteTask!.IsCompletedSuccessfully);
        Assert.Null(store.Checkpoint(A));
        Assert.DoesNotContain(host.Logs.Entries, e => e.Level >= LogLevel.Warning);
    }

    [Fact]
    public async Task Starting_the_dispatcher_again_while_it_runs_is_refused_and_starting_it_after_it_stopped_resumes_delivery()
    {
        var store = new FakeEventStore();
        var events = store.Append(Charges(2));
        await using var host = new DispatcherHost(store, b => b.AddEventHandler<HandlerA>());
        host.A.Behavior = async (e, attempt, ct) =>
        {
            if (e.Equals(events[0]) && attempt == 1)
            {
                await Task.Delay(Timeout.Infinite, ct);
            }
        };
        await host.StartAsync();
        await store.Until(() => host.A.Calls.Count == 1);

        // A second set of loops would hand the handler every event again, alongside the first, and a stop would
        // end only the second.
        await Assert.ThrowsAsync<InvalidOperationException>(() => host.Dispatcher.StartAsync(CancellationToken.None));
        await host.Dispatcher.StopAsync(CancellationToken.None);
        Assert.True(host.Dispatcher.ExecuteTask!.IsCompletedSuccessfully);
        Assert.Equal([events[0]], host.A.Calls);

        await host.Dispatcher.StartAsync(CancellationToken.None);
        await store.Until(() => host.A.Calls.Count == 3);
        Assert.Equal([events[0], events[0], events[1]], host.A.Calls);
    }

    [Fact]
    public async Task A_disposed_dispatcher_refuses_to_start_again()
    {
        var store = new FakeEventStore();
        var events = store.Append(Charges(2));
        await using var host = new DispatcherHost(store, b => b.AddEventHandler<HandlerA>());
        await host.StartAsync();
        await store.Until(() => Equals(store.Checkpoint(A), store.End));
        await host.Dispatcher.StopAsync(CancellationToken.None);
        host.Dispatcher.Dispose();
        store.Append(Charges(1, firstMinute: 20));

        // Its loops would run on services the container is disposing, with nothing left to stop them.
        await Assert.ThrowsAsync<ObjectDisposedException>(() => host.Dispatcher.StartAsync(CancellationToken.None));
        Assert.Equal(events, host.A.Calls);
    }

    [Fact]
    public async Task Of_two_starts_made_at_once_one_is_refused()
    {
        // Rounds of two threads released together: a race, which the refusal must win every time.
        for (var round = 0; round < 200; round++)
        {
            var store = new FakeEventStore();
            var events = store.Append(Charges(2));
            await using var host = new DispatcherHost(store, b => b.AddEventHandler<HandlerA>());
            using var together = new Barrier(2);
            var starts = Enumerable.Range(0, 2).Select(_ => Task.Run(async () =>
            {
                together.SignalAndWait();
                try
                {
                    await host.Dispatcher.StartAsync(CancellationToken.None);
                    return true;
                }
                catch (InvalidOperationException)
                {
                    return false;
                }
            })).ToArray();

            Assert.Single(await Task.WhenAll(starts), started => started);
            await store.Until(() => Equals(store.Checkpoint(A), store.End));
            await host.Dispatcher.StopAsync(CancellationToken.None);
            Assert.Equal(events, host.A.Calls);
        }
    }

    [Fact]
    public async Task A_start_racing_a_dispose_is_refused_or_has_its_loops_ended_by_it()
    {
        for (var round = 0; round < 200; round++)
        {
            var store = new FakeEventStore();
            store.Append(Charges(2));
            await using var host = new DispatcherHost(store, b => b.AddEventHandler<HandlerA>());
            using var together = new Barrier(2);
            var start = Task.Run(async () =>
            {
                together.SignalAndWait();
                try
                {
                    await host.Dispatcher.StartAsync(CancellationToken.None);
                }
                catch (ObjectDisposedException)
                {
                }
            });
            var dispose = Task.Run(async () =>
            {
                together.SignalAndWait();
                await ((IAsyncDisposable)host.Dispatcher).DisposeAsync();
            });
            await Task.WhenAll(start, dispose);

            // No loop outlives the dispose, else it would run on disposed services for as long as the process (the
            // loops of a start the dispose cancelled before they ran end cancelled; the wait is a safety net).
            if (host.Dispatcher.ExecuteTask is { } loops)
            {
                try
                {
                    await loops.WaitAsync(TimeSpan.FromSeconds(10));
                }
                catch (OperationCanceledException) when (loops.IsCanceled)
                {
                }
            }
        }
    }

    [Fact]
    public async Task A_stop_before_any_start_does_nothing_and_the_dispatcher_starts_after_it()
    {
        var store = new FakeEventStore();
        var events = store.Append(Charges(2));
        await using var host = new DispatcherHost(store, b => b.AddEventHandler<HandlerA>());

        await host.Dispatcher.StopAsync(CancellationToken.None);
        await host.StartAsync();

        await store.Until(() => Equals(store.Checkpoint(A), store.End));
        Assert.Equal(events, host.A.Calls);
    }

    [Fact]
    public async Task Stops_made_at_once_and_again_after_end_the_loops_once_and_save_once()
    {
        var store = new FakeEventStore();
        await using var host = await HostWithUnsavedProgressAsync(store);

        await Task.WhenAll(host.Dispatcher.StopAsync(CancellationToken.None), host.Dispatcher.StopAsync(CancellationToken.None));
        await host.Dispatcher.StopAsync(CancellationToken.None);

        Assert.True(host.Dispatcher.ExecuteTask!.IsCompletedSuccessfully);
        Assert.Equal([(A, store.End)], store.Saves);
        Assert.Empty(host.Logs.WithId(1110));
    }

    [Fact]
    public async Task A_stop_given_no_time_ends_the_loops_without_waiting_and_logs_the_save_it_left_no_time_for()
    {
        var store = new FakeEventStore();
        await using var host = await HostWithUnsavedProgressAsync(store);
        using var noTime = new CancellationTokenSource();
        await noTime.CancelAsync();

        await host.Dispatcher.StopAsync(noTime.Token);

        // The save is asked for under the cancelled token, and not made: those events come again at the next start.
        await store.Until(() => host.Logs.WithId(1110).Count > 0);
        var unsaved = Assert.Single(host.Logs.WithId(1110));
        Assert.IsAssignableFrom<OperationCanceledException>(unsaved.Exception);
        await host.Dispatcher.ExecuteTask!;
        Assert.Null(store.Checkpoint(A));
    }

    [Fact]
    public async Task A_dispose_after_a_stop_that_ended_the_loops_or_before_any_start_waits_for_nothing_and_a_second_dispose_does_nothing()
    {
        var store = new FakeEventStore();
        var events = store.Append(Charges(2));
        await using var host = new DispatcherHost(store, b => b.AddEventHandler<HandlerA>(), ownsStore: true);
        await using var idle = new DispatcherHost(new FakeEventStore(), b => b.AddEventHandler<HandlerA>(), ownsStore: true);
        await host.StartAsync();
        await store.Until(() => Equals(store.Checkpoint(A), store.End));
        await host.StopAsync();

        // Nothing is waited for, so these complete without the fake clock moving.
        await ((IAsyncDisposable)host.Dispatcher).DisposeAsync();
        await ((IAsyncDisposable)host.Dispatcher).DisposeAsync();
        host.Dispatcher.Dispose();
        await ((IAsyncDisposable)idle.Dispatcher).DisposeAsync();

        Assert.Equal(events, host.A.Calls);
        Assert.DoesNotContain(host.Logs.Entries, e => e.Level >= LogLevel.Warning);
        Assert.DoesNotContain(idle.Logs.Entries, e => e.Level >= LogLevel.Warning);
        await Assert.ThrowsAsync<ObjectDisposedException>(() => idle.Dispatcher.StartAsync(CancellationToken.None));
    }

    [Fact]
    public async Task A_dispose_after_a_stop_whose_time_ran_out_does_not_wait_again()
    {
        var store = new FakeEventStore();
        store.Append(Charges(2));
        await using var host = new DispatcherHost(store, b => b.AddEventHandler<HandlerA>(), ownsStore: true);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        host.A.Behavior = async (_, _, _) => await release.Task; // heeds no token
        await host.StartAsync();
        await store.Until(() => host.A.Calls.Count == 1);
        try
        {
            using var stopTime = new CancellationTokenSource();
            var stopping = host.Dispatcher.StopAsync(stopTime.Token);
            await stopTime.CancelAsync();
            await stopping;

            // The host's time to stop is over: the dispose returns at once (the fake clock does not move), saying
            // that a loop still runs.
            await ((IAsyncDisposable)host.Dispatcher).DisposeAsync();
            var warning = Assert.Single(host.Logs.WithId(1112));
            Assert.Equal(LogLevel.Warning, warning.Level);
            Assert.False(host.Dispatcher.ExecuteTask!.IsCompleted);
        }
        finally
        {
            release.TrySetResult();
            await host.Dispatcher.ExecuteTask!;
        }
    }

    [Fact]
    public async Task A_handler_call_that_fails_with_another_exception_because_the_host_stops_spends_no_attempt_and_skips_nothing()
    {
        var store = new FakeEventStore();
        store.Append(Charges(3));
        await using var host = new DispatcherHost(store, b => b.AddEventHandler<HandlerA>(), o => o.MaxDeliveryAttempts = 1);
        host.A.Behavior = async (_, _, ct) =>
        {
            // A client library that reports its cancelled call with an exception of its own.
            try
            {
                await Task.Delay(Timeout.Infinite, ct);
            }
            catch (OperationCanceledException cancelled)
            {
                throw new InvalidOperationException("The call was cancelled.", cancelled);
            }
        };
        await host.StartAsync();
        await store.Until(() => host.A.Calls.Count == 1);

        await host.StopAsync();

        Assert.True(host.Dispatcher.ExecuteTask!.IsCompletedSuccessfully);
        Assert.Single(host.A.Calls);
        Assert.Null(store.Checkpoint(A));
        Assert.DoesNotContain(host.Logs.Entries, e => e.Level >= LogLevel.Warning);
    }

    [Fact]
    public async Task Once_the_host_stops_no_further_event_of_the_page_is_handed_to_a_handler_whose_call_finished()
    {
        var store = new FakeEventStore();
        var events = store.Append(Charges(3));
        await using var host = new DispatcherHost(store, b => b.AddEventHandler<HandlerA>());
        host.A.Behavior = async (_, _, ct) =>
        {
            // A handler that finishes what it started although the host is stopping.
            var stopping = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            using (ct.Register(stopping.SetResult))
            {
                await stopping.Task;
            }
        };
        await host.StartAsync();
        await store.Until(() => host.A.Calls.Count == 1);

        await host.StopAsync();

        Assert.True(host.Dispatcher.ExecuteTask!.IsCompletedSuccessfully);
        Assert.Equal([events[0]], host.A.Calls);
    }

    [Fact]
    public async Task Stopping_the_host_during_a_back_off_ends_the_dispatcher_cleanly()
    {
        var store = new FakeEventStore();
        store.Append(Charges(1));
        await using var host = new DispatcherHost(store, b => b.AddEventHandler<HandlerA>());
        host.A.Behavior = (_, _, _) => throw new InvalidOperationException("boom");
        await host.StartAsync();
        await host.Time.NextTimerAsync();

        await host.StopAsync();

        Assert.True(host.Dispatcher.ExecuteTask!.IsCompletedSuccessfully);
    }

    [Fact]
    public async Task A_store_call_that_fails_as_the_host_stops_ends_the_loop_quietly_instead_of_being_logged_for_a_retry()
    {
        var store = new FakeEventStore();
        var events = store.Append(Charges(2));
        await using var host = new DispatcherHost(store, b => b.AddEventHandler<HandlerA>());
        using var stopped = new ManualResetEventSlim();
        var waiting = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        store.Fault = operation =>
        {
            if (operation != "wait")
            {
                return null;
            }

            // The wait fails once the host is stopping, as a client library may report a call cut short by it.
            waiting.TrySetResult();
            stopped.Wait();
            return new InvalidOperationException("The connection was closed.");
        };
        await host.StartAsync();
        await waiting.Task;

        var stopping = host.StopAsync(); // the dispatcher's token is cancelled once this returns
        stopped.Set();
        await stopping;

        Assert.True(host.Dispatcher.ExecuteTask!.IsCompletedSuccessfully);
        Assert.Equal(events, host.A.Calls);
        Assert.Equal(store.End, store.Checkpoint(A));
        Assert.DoesNotContain(host.Logs.Entries, e => e.Level >= LogLevel.Warning);
    }

    [Fact]
    public async Task A_handler_whose_construction_fails_as_the_host_stops_is_not_logged_as_one_that_could_not_be_resolved()
    {
        var store = new FakeEventStore();
        store.Append(Charges(1));
        var gate = new ConstructionGate();
        await using var host = new DispatcherHost(store, b =>
        {
            b.Services.AddSingleton(gate);
            b.AddEventHandler<HandlerConstructedAtTheGate>();
        });
        await host.StartAsync();
        await gate.Entered.Task;

        var stopping = host.StopAsync();
        gate.Stopped.Set();
        await stopping;

        Assert.True(host.Dispatcher.ExecuteTask!.IsCompletedSuccessfully);
        Assert.DoesNotContain(host.Logs.Entries, e => e.Level >= LogLevel.Warning);
    }

    /// <summary>Holds <see cref="HandlerConstructedAtTheGate"/>'s construction until the test stops the host.</summary>
    private sealed class ConstructionGate : IDisposable
    {
        public TaskCompletionSource Entered { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public ManualResetEventSlim Stopped { get; } = new();

        public void Dispose() => Stopped.Dispose();
    }

    /// <summary>A handler whose construction fails once the host is stopping (a dependency shut down with it).</summary>
    private sealed class HandlerConstructedAtTheGate : ICommerceEventHandler
    {
        public HandlerConstructedAtTheGate(ConstructionGate gate)
        {
            gate.Entered.TrySetResult();
            gate.Stopped.Wait();
            throw new ObjectDisposedException("A dependency", "It was disposed as the host stopped.");
        }

        public ValueTask HandleAsync(CommerceEvent @event, CancellationToken cancellationToken) => ValueTask.CompletedTask;
    }

    /// <summary>Where a delivery loop is when the container, disposed without a stop, refuses it while the dispatcher still runs.</summary>
    public enum DisposalWindow
    {
        /// <summary>Waiting on the feed: a new page comes, and its scope is asked for.</summary>
        NewPage,

        /// <summary>Backing off after a failed call: the retry's scope is asked for.</summary>
        Retry,

        /// <summary>Resolving the handler: a dependency's constructor resolves a service.</summary>
        Resolution,

        /// <summary>In a handler's call, after the page's first event: the call resolves a service.</summary>
        HandlerCall,
    }

    [Theory]
    [InlineData(DisposalWindow.NewPage, false)]
    [InlineData(DisposalWindow.Retry, false)]
    [InlineData(DisposalWindow.Resolution, false)]
    [InlineData(DisposalWindow.HandlerCall, false)]
    [InlineData(DisposalWindow.NewPage, true)]
    [InlineData(DisposalWindow.Retry, true)]
    [InlineData(DisposalWindow.Resolution, true)]
    [InlineData(DisposalWindow.HandlerCall, true)]
    public async Task A_loop_the_container_refuses_as_it_is_disposed_without_a_stop_ends_quietly_as_a_stop_ends_it(DisposalWindow window, bool synchronously)
    {
        var store = new FakeEventStore();
        var events = window == DisposalWindow.NewPage ? [] : store.Append(Charges(2));
        var construction = new ConstructionWindow();
        await using var host = new DispatcherHost(store, b =>
        {
            b.Services.AddSingleton(construction);
            b.Services.AddScoped<LateDependency>();
            b.Services.AddSingleton<DisposalGate>();
            if (window == DisposalWindow.Resolution)
            {
                b.AddEventHandler<HandlerResolvingAtConstruction>();
            }
            else
            {
                b.AddEventHandler<HandlerA>();
            }
        });
        var calledAfterDisposal = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var containerDisposing = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (window == DisposalWindow.Retry)
        {
            host.A.Behavior = (_, attempt, _) => attempt == 1 ? throw new InvalidOperationException("boom") : ValueTask.CompletedTask;
        }
        else if (window == DisposalWindow.HandlerCall)
        {
            var services = host.Services;
            host.A.Behavior = async (e, _, _) =>
            {
                if (e == events[1])
                {
                    calledAfterDisposal.TrySetResult();
                    await containerDisposing.Task;
                    _ = services.GetRequiredService<ScopeLog>();
                }
            };
        }

        await host.StartAsync();

        // The loop reaches its point while the container is alive.
        switch (window)
        {
            case DisposalWindow.NewPage:
                await store.Until(() => store.Waiting == 1);
                break;
            case DisposalWindow.Retry:
                Assert.Equal(TimeSpan.FromSeconds(1), await host.Time.NextTimerAsync());
                break;
            case DisposalWindow.Resolution:
                await construction.Entered.Task;
                break;
            case DisposalWindow.HandlerCall:
                await calledAfterDisposal.Task;
                break;
        }

        // The container marks itself disposed, then disposes what it created last first: the gate, created after the
        // dispatcher (and after the transient that disposes it), holds the disposal there, with the dispatcher running.
        // Disposed synchronously on a thread of its own, since Dispose blocks (on a pool thread, it would hold one of
        // the few the loop and this test need while the gate holds it).
        var gate = host.Services.GetRequiredService<DisposalGate>();
        var disposing = synchronously
            ? Task.Factory.StartNew(host.Services.Dispose, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default)
            : host.Services.DisposeAsync().AsTask();
        try
        {
            await gate.Entered.Task;
            switch (window)
            {
                case DisposalWindow.NewPage:
                    events = store.Append(Charges(1));
                    break;
                case DisposalWindow.Retry:
                    host.Time.Fake.Advance(TimeSpan.FromSeconds(1));
                    break;
                case DisposalWindow.Resolution:
                    construction.Open.Set();
                    break;
                case DisposalWindow.HandlerCall:
                    containerDisposing.SetResult();
                    break;
            }

            await store.Until(() => host.Logs.Entries.Any(e =>
                e.EventId.Id == 1113 || (e.Level >= LogLevel.Warning && e.Exception is ObjectDisposedException)));
        }
        finally
        {
            gate.Release.TrySetResult();
            construction.Open.Set();
            containerDisposing.TrySetResult();
            await disposing;
        }

        Assert.DoesNotContain(host.Logs.Entries, e => e.Level >= LogLevel.Warning && e.Exception is ObjectDisposedException);
        var ended = Assert.Single(host.Logs.WithId(1113));
        Assert.Equal(LogLevel.Debug, ended.Level);
        Assert.IsType<ObjectDisposedException>(ended.Exception);
        Assert.True(host.Dispatcher.ExecuteTask!.IsCompletedSuccessfully);

        // What the loop handled since its last save is saved as it ends, as at a stop.
        var name = window == DisposalWindow.Resolution ? typeof(HandlerResolvingAtConstruction).FullName! : A;
        Assert.Equal(window == DisposalWindow.HandlerCall ? Through(events.Take(1)) : null, store.Checkpoint(name));
        Assert.Empty(host.Logs.WithId(1110));
    }

    [Fact]
    public async Task A_store_call_that_meets_a_disposed_dependency_as_the_container_is_disposed_without_a_stop_ends_the_loop_quietly()
    {
        var store = new FakeEventStore();
        await using var host = new DispatcherHost(store, b =>
        {
            b.Services.AddSingleton<DisposalGate>();
            b.AddEventHandler<HandlerA>();
        });
        var handler = host.A;
        await host.StartAsync();
        await store.Until(() => store.Waiting == 1);

        // The container marks itself disposed and disposes what it created after the dispatcher first, a dependency
        // of the store's among them (as the gate is): the store's next call meets it disposed.
        var gate = host.Services.GetRequiredService<DisposalGate>();
        var disposing = host.Services.DisposeAsync().AsTask();
        try
        {
            await gate.Entered.Task;
            store.Fault = operation => operation == "read" ? new ObjectDisposedException("A connection") : null;
            store.Append(Charges(1));
            await store.Until(() => host.Logs.Entries.Any(e =>
                e.EventId.Id == 1113 || (e.Level >= LogLevel.Warning && e.Exception is ObjectDisposedException)));
        }
        finally
        {
            gate.Release.TrySetResult();
            await disposing;
        }

        Assert.DoesNotContain(host.Logs.Entries, e => e.Level >= LogLevel.Warning);
        var ended = Assert.Single(host.Logs.WithId(1113));
        Assert.Equal(LogLevel.Debug, ended.Level);
        Assert.IsType<ObjectDisposedException>(ended.Exception);
        Assert.True(host.Dispatcher.ExecuteTask!.IsCompletedSuccessfully);
        Assert.Empty(handler.Calls);
    }

    [Fact]
    public async Task A_purge_that_meets_a_disposed_dependency_as_the_container_is_disposed_without_a_stop_ends_quietly()
    {
        var store = new FakeEventStore();
        await store.SaveCheckpointAsync(A, EventCursor.Parse("0:5"));
        await using var host = new DispatcherHost(store, b =>
        {
            b.Services.AddSingleton<DisposalGate>();
            b.AddEventHandler<HandlerA>();
        }, o => o.EventRetention = TimeSpan.FromDays(1));
        await host.StartAsync();
        await host.Time.TimerDueInAsync(TimeSpan.FromHours(1));

        var gate = host.Services.GetRequiredService<DisposalGate>();
        var disposing = host.Services.DisposeAsync().AsTask();
        try
        {
            await gate.Entered.Task;
            store.Fault = operation => operation is "load" or "purge" ? new ObjectDisposedException("A connection") : null;
            host.Time.Fake.Advance(TimeSpan.FromHours(1));
            await store.Until(() => host.Logs.Entries.Any(e =>
                e.EventId.Id == 1205 || (e.Level >= LogLevel.Warning && e.Exception is ObjectDisposedException)));
        }
        finally
        {
            gate.Release.TrySetResult();
            await disposing;
        }

        Assert.DoesNotContain(host.Logs.Entries, e => e.Level >= LogLevel.Warning);
        var ended = Assert.Single(host.Logs.WithId(1205));
        Assert.Equal(LogLevel.Debug, ended.Level);
        Assert.IsType<ObjectDisposedException>(ended.Exception);
        Assert.True(host.Dispatcher.ExecuteTask!.IsCompletedSuccessfully);
        Assert.Empty(store.Purges);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_refusal_of_the_disposed_container_wrapped_in_another_exception_ends_the_loop_quietly_and_is_no_handler_failure(bool atResolution)
    {
        var store = new FakeEventStore();
        var events = store.Append(Charges(2));
        var construction = new ConstructionWindow();
        await using var host = new DispatcherHost(store, b =>
        {
            b.Services.AddSingleton(construction);
            b.Services.AddScoped<LateDependency>();
            b.Services.AddSingleton<DisposalGate>();
            if (atResolution)
            {
                // As a container that reports a failed resolution in an exception of its own, the cause inside.
                b.Services.AddScoped(services => Wrapped(() => new HandlerResolvingAtConstruction(services.GetRequiredService<LateDependency>())));
                b.AddEventHandler<HandlerResolvingAtConstruction>();
            }
            else
            {
                b.AddEventHandler<HandlerA>();
            }
        });
        var calledAfterDisposal = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var containerDisposing = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!atResolution)
        {
            var services = host.Services;
            host.A.Behavior = async (e, _, _) =>
            {
                if (e == events[1])
                {
                    calledAfterDisposal.TrySetResult();
                    await containerDisposing.Task;
                    _ = Wrapped(services.GetRequiredService<ScopeLog>);
                }
            };
        }

        await host.StartAsync();
        await (atResolution ? construction.Entered.Task : calledAfterDisposal.Task);
        var gate = host.Services.GetRequiredService<DisposalGate>();
        var disposing = host.Services.DisposeAsync().AsTask();
        try
        {
            await gate.Entered.Task;
            construction.Open.Set();
            containerDisposing.SetResult();
            await store.Until(() => host.Logs.Entries.Any(e => e.EventId.Id == 1113 || e.Level >= LogLevel.Warning));
        }
        finally
        {
            gate.Release.TrySetResult();
            construction.Open.Set();
            containerDisposing.TrySetResult();
            await disposing;
        }

        Assert.DoesNotContain(host.Logs.Entries, e => e.Level >= LogLevel.Warning);
        var ended = Assert.Single(host.Logs.WithId(1113));
        Assert.Equal(LogLevel.Debug, ended.Level);
        Assert.IsType<ObjectDisposedException>(ended.Exception!.InnerException);
        Assert.Empty(host.Meters.Of("commerce.events.handler_failures"));
        Assert.True(host.Dispatcher.ExecuteTask!.IsCompletedSuccessfully);
    }

    /// <summary>Runs <paramref name="resolve"/>, reporting its failure in an exception of its own, as some containers do.</summary>
    private static T Wrapped<T>(Func<T> resolve)
    {
        try
        {
            return resolve();
        }
        catch (Exception exception)
        {
            throw new InvalidOperationException("An error occurred during the activation of a component.", exception);
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task An_ObjectDisposedException_of_the_hosts_own_code_while_the_container_is_alive_is_a_failure_retried_after_a_back_off(bool atConstruction)
    {
        var store = new FakeEventStore();
        var events = store.Append(Charges(1));
        var construction = new ConstructionWindow { Throws = atConstruction };
        construction.Open.Set();
        await using var host = new DispatcherHost(store, b =>
        {
            b.Services.AddSingleton(construction);
            b.Services.AddScoped<LateDependency>();
            if (atConstruction)
            {
                b.AddEventHandler<HandlerResolvingAtConstruction>();
            }
            else
            {
                b.AddEventHandler<HandlerA>();
            }
        });
        if (!atConstruction)
        {
            host.A.Behavior = (_, attempt, _) => attempt == 1 ? throw new ObjectDisposedException("A connection") : ValueTask.CompletedTask;
        }

        await host.StartAsync();
        Assert.Equal(TimeSpan.FromSeconds(1), await host.Time.AdvanceToNextTimerAsync());
        var name = atConstruction ? typeof(HandlerResolvingAtConstruction).FullName! : A;
        await store.Until(() => Equals(store.Checkpoint(name), store.End));

        var failure = Assert.Single(host.Logs.WithId(atConstruction ? 1107 : 1103));
        Assert.Equal(atConstruction ? LogLevel.Error : LogLevel.Warning, failure.Level);
        Assert.IsType<ObjectDisposedException>(failure.Exception);
        Assert.Empty(host.Logs.WithId(1113));
        if (!atConstruction)
        {
            Assert.Equal([events[0], events[0]], host.A.Calls);
        }
    }

    /// <summary>A singleton that holds the container's disposal (either way), once it is marked disposed, until released.</summary>
    private sealed class DisposalGate : IDisposable, IAsyncDisposable
    {
        public TaskCompletionSource Entered { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource Release { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public void Dispose()
        {
            Entered.TrySetResult();
            Release.Task.Wait();
        }

        public async ValueTask DisposeAsync()
        {
            Entered.TrySetResult();
            await Release.Task;
        }
    }

    /// <summary>Holds <see cref="LateDependency"/>'s construction until opened; with <see cref="Throws"/>, its first construction throws.</summary>
    private sealed class ConstructionWindow
    {
        public TaskCompletionSource Entered { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public ManualResetEventSlim Open { get; } = new();

        public bool Throws { get; set; }
    }

    /// <summary>A dependency whose constructor resolves a service once its window opens.</summary>
    private sealed class LateDependency
    {
        public LateDependency(IServiceProvider services, ConstructionWindow window)
        {
            window.Entered.TrySetResult();
            window.Open.Wait();
            if (window.Throws)
            {
                window.Throws = false;
                throw new ObjectDisposedException("A connection");
            }

            Log = services.GetRequiredService<ScopeLog>();
        }

        public ScopeLog Log { get; }
    }

    /// <summary>A handler (scoped, by the dispatcher's default) with a <see cref="LateDependency"/>.</summary>
    private sealed class HandlerResolvingAtConstruction(LateDependency dependency) : ICommerceEventHandler
    {
        public ValueTask HandleAsync(CommerceEvent @event, CancellationToken cancellationToken)
        {
            dependency.Log.Add(Guid.Empty, @event);
            return ValueTask.CompletedTask;
        }
    }

    [Fact]
    public async Task A_purge_that_fails_as_the_host_stops_is_not_logged_as_one_the_next_interval_will_try_again()
    {
        var store = new FakeEventStore();
        await store.SaveCheckpointAsync(A, EventCursor.Parse("0:5"));
        await using var host = new DispatcherHost(store, b => b.AddEventHandler<HandlerA>(), o => o.EventRetention = TimeSpan.FromDays(1));
        using var stopped = new ManualResetEventSlim();
        var purging = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        store.Fault = operation =>
        {
            if (operation != "purge")
            {
                return null;
            }

            purging.TrySetResult();
            stopped.Wait();
            return new InvalidOperationException("The connection was closed.");
        };
        await host.StartAsync();

        // Advancing the clock runs the purge on this thread: from another, since the purge blocks until the stop.
        var advanced = Task.Run(host.Time.AdvanceToNextTimerAsync);
        await purging.Task;
        var stopping = host.StopAsync();
        stopped.Set();
        await stopping;
        await advanced;

        Assert.True(host.Dispatcher.ExecuteTask!.IsCompletedSuccessfully);
        Assert.DoesNotContain(host.Logs.Entries, e => e.Level >= LogLevel.Warning);
    }

    [Fact]
    public async Task The_purge_removes_what_every_handler_has_handled_and_is_older_than_the_retention()
    {
        var store = new FakeEventStore();
        await store.SaveCheckpointAsync(A, EventCursor.Parse("0:5,1:3"));
        await store.SaveCheckpointAsync(B, EventCursor.Parse("0:2,1:7,2:1"));
        await using var host = new DispatcherHost(store, b => b.AddEventHandler<HandlerA>().AddEventHandler<HandlerB>(), o =>
        {
            o.EventRetention = TimeSpan.FromDays(7);
            o.PurgeInterval = TimeSpan.FromMinutes(30);
        });
        await host.StartAsync();

        Assert.Equal(TimeSpan.FromMinutes(30), await host.Time.AdvanceToNextTimerAsync());
        await store.Until(() => store.Purges.Count == 1);

        var purge = store.Purges[0];
        Assert.Equal(ObservedTimeProvider.Origin + TimeSpan.FromMinutes(30) - TimeSpan.FromDays(7), purge.Before);
        Assert.Equal(EventCursor.Parse("0:2,1:3"), purge.UpTo);

        Assert.Equal(TimeSpan.FromMinutes(30), await host.Time.AdvanceToNextTimerAsync());
        await store.Until(() => store.Purges.Count == 2);
    }

    [Fact]
    public async Task A_clock_that_jumps_ahead_purges_no_event_younger_than_the_retention_by_the_time_that_passed()
    {
        // The clock jumps 30 days ahead (a wrong time source, a host resumed) while 30 minutes pass: the events of
        // the last 7 days are still within the retention for a reader that polls the feed, and must stay.
        var store = new FakeEventStore();
        await store.SaveCheckpointAsync(A, EventCursor.Parse("0:5"));
        await using var host = new DispatcherHost(store, b => b.AddEventHandler<HandlerA>(), o =>
        {
            o.EventRetention = TimeSpan.FromDays(7);
            o.PurgeInterval = TimeSpan.FromMinutes(30);
        });
        await host.StartAsync();

        host.Time.WallOffset = TimeSpan.FromDays(30);
        Assert.Equal(TimeSpan.FromMinutes(30), await host.Time.AdvanceToNextTimerAsync());
        await store.Until(() => store.Purges.Count == 1);
        Assert.Equal(ObservedTimeProvider.Origin + TimeSpan.FromMinutes(30) - TimeSpan.FromDays(7), store.Purges[0].Before);

        // Once the retention has passed since the jump, the clock's own time of day counts again.
        host.Time.Fake.Advance(TimeSpan.FromDays(7));
        await store.Until(() => store.Purges.Count == 2);
        Assert.Equal(host.Time.GetUtcNow() - TimeSpan.FromDays(7), store.Purges[1].Before);
    }

    [Fact]
    public async Task Nothing_is_purged_while_a_handler_has_handled_nothing()
    {
        var store = new FakeEventStore();
        await store.SaveCheckpointAsync(A, EventCursor.Parse("0:5"));
        await using var host = new DispatcherHost(store, b => b.AddEventHandler<HandlerA>().AddEventHandler<HandlerB>(), o =>
            o.EventRetention = TimeSpan.FromDays(1));
        await host.StartAsync();

        await host.Time.AdvanceToNextTimerAsync();
        await store.Until(() => host.Logs.WithId(1202).Count == 1);

        Assert.Empty(store.Purges);
    }

    [Fact]
    public async Task The_longest_retention_purges_what_is_older_than_it_without_failing()
    {
        var store = new FakeEventStore();
        await store.SaveCheckpointAsync(A, EventCursor.Parse("0:5"));
        await using var host = new DispatcherHost(store, b => b.AddEventHandler<HandlerA>(), o => o.EventRetention = TimeSpan.FromDays(36_500));
        await host.StartAsync();

        await host.Time.AdvanceToNextTimerAsync();
        await store.Until(() => store.Purges.Count == 1);
        Assert.Equal(host.Time.GetUtcNow() - TimeSpan.FromDays(36_500), store.Purges[0].Before);
        Assert.Empty(host.Logs.WithId(1203)); // no purge failed
    }

    [Theory]
    [InlineData(1, 7)] // a clock a day after the calendar's start, a week's retention
    [InlineData(18_250, 36_500)] // fifty years after it, the longest retention
    public async Task A_retention_that_reaches_before_the_calendar_starts_purges_nothing_and_logs_no_failure(int clockDays, int retentionDays)
    {
        var store = new FakeEventStore();
        await store.SaveCheckpointAsync(A, EventCursor.Parse("0:5"));
        var time = new ObservedTimeProvider { WallOffset = DateTimeOffset.MinValue.AddDays(clockDays) - ObservedTimeProvider.Origin };
        await using var host = new DispatcherHost(store, b => b.AddEventHandler<HandlerA>(), o => o.EventRetention = TimeSpan.FromDays(retentionDays), time);
        await host.StartAsync();

        // The purge's interval passes, and the loop waits for the next one: the purge has run by then.
        var interval = await host.Time.AdvanceToNextTimerAsync();
        Assert.Equal(interval, await host.Time.NextTimerAsync());

        Assert.Empty(store.Purges);
        Assert.Empty(host.Logs.WithId(1203)); // no purge failed
        Assert.Single(host.Logs.WithId(1204));
    }

    [Fact]
    public async Task A_failed_purge_is_logged_and_tried_again_at_the_next_interval()
    {
        var store = new FakeEventStore();
        await store.SaveCheckpointAsync(A, EventCursor.Parse("0:5"));
        var purges = 0;
        store.Fault = operation => operation == "purge" && ++purges == 1 ? new StoreUnavailableException("purge failed") : null;
        await using var host = new DispatcherHost(store, b => b.AddEventHandler<HandlerA>(), o => o.EventRetention = TimeSpan.FromDays(1));
        await host.StartAsync();

        await host.Time.AdvanceToNextTimerAsync();
        await store.Until(() => host.Logs.WithId(1203).Count == 1);
        Assert.Equal(LogLevel.Warning, host.Logs.WithId(1203)[0].Level);

        await host.Time.AdvanceToNextTimerAsync();
        await store.Until(() => store.Purges.Count == 1);
        Assert.Equal(EventCursor.Parse("0:5"), store.Purges[0].UpTo);
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(2, 2)]
    [InlineData(3, 4)]
    [InlineData(4, 8)]
    [InlineData(5, 10)]
    [InlineData(1000, 10)]
    [InlineData(int.MaxValue, 10)]
    [InlineData(int.MinValue, 10)] // a count of failures in a row that wrapped past int.MaxValue: still the longest, never none
    [InlineData(int.MinValue + 1, 10)]
    [InlineData(-1, 10)]
    public void The_back_off_doubles_from_the_base_up_to_the_maximum(int failures, int expectedSeconds) =>
        Assert.Equal(TimeSpan.FromSeconds(expectedSeconds), CommerceEventDispatcher.BackOff(failures, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(10)));
}
