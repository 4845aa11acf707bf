using System.Diagnostics;
using System.Diagnostics.Metrics;
using Commerce.Storage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Commerce.Events;

/// <summary>
/// Delivers the event feed to every registered handler: one independent loop per handler, plus one that
/// purges the event log.
/// </summary>
/// <remarks>
/// A handler's loop loads its checkpoint, reads a page after it, calls the handler for each event in page
/// order (one DI scope per page, a new one after a failure), and saves the cursor it reached once the page
/// is done — and, before waiting to retry a failed event, the progress made on the page so far — so a crash
/// delivers again at most what was handled since the last save. When nothing is new it waits on the feed.
/// A failed handler call is retried on the same event with exponential back-off until
/// <see cref="CommerceEventDispatcherOptions.MaxDeliveryAttempts"/>, then the poison policy applies; a failed
/// store call (reading, waiting, loading or saving a checkpoint) is retried with the same back-off for as
/// long as the host runs. Nothing but stopping ends a loop (or the Stop policy, that loop only, or the container
/// refusing it as it is disposed, see <see cref="IsServicesDisposed"/>), and nothing a loop meets escapes to the
/// host. Disposing the dispatcher ends the loops too, and waits for them
/// (bounded): a container disposes the store after the dispatcher, which was created with it, and the singletons
/// a handler's first resolution created (after the dispatcher) after the <see cref="DispatcherDisposer"/> the loop
/// resolves next, whose dispose disposes the dispatcher.
/// </remarks>
internal sealed class CommerceEventDispatcher : BackgroundService, IAsyncDisposable
{
    private readonly IServiceProvider _services;
    private readonly IServiceScopeFactory _scopes;
    private readonly ICommerceEventFeed _feed;
    private readonly IEventStore _store;

    // The store's consumer locks, if it keeps them (a store several processes share): each handler is then delivered by
    // the one dispatcher holding its lock, and its checkpoint saved through that lock.
    private readonly IEventConsumerLocks? _locks;
    private readonly TimeProvider _time;

    // How far the clock jumped ahead of the time that passed, looked at by each purge.
    private readonly ClockJumps _jumps;
    private readonly ILogger _logger;
    private readonly CommerceEventDispatcherOptions _options;
    private readonly EventHandlerRegistration[] _handlers;

    // Per handler: whether a DispatcherDisposer was resolved after the handler was first resolved. Each is written by
    // its handler's loop only, and one set of loops runs at a time.
    private readonly bool[] _disposerTaken;
    private readonly DispatcherTelemetry _telemetry;

    // Whether this host's use cases publish events (CommerceOptions.PublishEvents): said once at start if not.
    private readonly bool _publishes;

    // The token of _saveBound, that bounds how long the loops may take to save as they end once a stop or a dispose
    // without a stop set it; none from each start until then (a loop the start's token ends meanwhile saves within
    // DisposeTimeout of its own).
    private CancellationToken _stopToken;

    // Cancelled when the token of the stop that set it is, or by a dispose whose wait is over, which then knows that
    // every save it bounds was told to give up, and can tell those that have returned.
    private SaveBound? _saveBound;

    // Every bound a stop or a dispose set since the last start (a save keeps the one it began under, which a later
    // stop does not lift), each with the registration that cancels it with its stop's token; cleared at a start.
    private readonly List<SaveBound> _saveBounds = [];
    private readonly List<CancellationTokenRegistration> _stopRegistrations = [];

    // Of the current set of loops, set by each start (ExecuteAsync runs on the thread pool, after it): per handler,
    // the store's call of the save its loop makes as it ends, once under way; per handler, then the purge, whether
    // its loop has ended (the purge's too when it does not run).
    private Task?[] _finalSaves = [];
    private bool[] _ended = [];

    // Orders the lifetime's steps (start, the state a stop and a dispose set): a host takes them one at a time, but
    // a caller may take them at once, from several threads.
    private readonly Lock _lifetime = new();

    // Whether StopAsync was called since the last start: a dispose then waits no longer than that stop's token allows.
    private bool _stopRequested;

    // Set by the first DisposeAsync (or Dispose): a second call does nothing, and a start is refused.
    private bool _disposed;

    public CommerceEventDispatcher(IServiceProvider services, IEnumerable<EventHandlerRegistration> handlers, CommerceEventDispatcherOptions options)
    {
        _services = services;
        _scopes = services.GetRequiredService<IServiceScopeFactory>();
        _feed = services.GetService<ICommerceEventFeed>() ?? throw new InvalidOperationException(
            "The event dispatcher needs Commerce: call services.AddCommerce() and a store method on the builder it returns.");
        _store = services.GetService<IEventStore>() ?? throw new InvalidOperationException(services.GetService<ICommerceStore>() is null
            // A host that chose no store is told to choose one, as the services tell it, not that its store lacks events.
            ? "No Commerce store is registered, so the event dispatcher has no events to read. Call a store method on the builder AddCommerce returns, for example services.AddCommerce().UseInMemoryStore()."
            : "The configured store keeps no events: it registers no IEventStore, which the event dispatcher reads and saves its checkpoints through (the in-memory and PostgreSQL stores do).");
        _locks = _store as IEventConsumerLocks;
        _time = services.GetService<TimeProvider>() ?? TimeProvider.System;
        _jumps = new ClockJumps(_time, _time.GetUtcNow());
        _publishes = services.GetService<CommerceOptions>()?.PublishEvents ?? true;
        _logger = (ILogger?)services.GetService<ILoggerFactory>()?.CreateLogger<CommerceEventDispatcher>() ?? NullLogger.Instance;
        _options = options.Snapshot();
        _telemetry = DispatcherTelemetry.Create(services.GetService<IMeterFactory>());

        // The registered instance is mutable: a change made after AddEventDispatcher validated it is checked here,
        // so that the host fails at start rather than a loop failing (or purging without pause) while it runs.
        var problems = _options.Validate();
        if (problems.Count > 0)
        {
            throw new InvalidOperationException("Invalid event dispatcher options: " + string.Join(" ", problems));
        }

        _handlers = [.. handlers];
        _disposerTaken = new bool[_handlers.Length];

        // A handler AddEventHandler could not register (an interface or abstract class) is the host's to register:
        // one it did not would fail every delivery for as long as the host runs, so the host fails at start instead.
        if (services.GetService<IServiceProviderIsService>() is { } registry
            && _handlers.Where(h => !registry.IsService(h.HandlerType)).ToList() is { Count: > 0 } unregistered)
        {
            throw new InvalidOperationException(
                "No service is registered for the event handler(s) " +
                string.Join(", ", unregistered.Select(h => $"'{h.Name}' ({h.HandlerType.FullName})")) +
                ": an interface or abstract class given to AddEventHandler must be registered by the host, with its implementation.");
        }
    }

    protected override Task ExecuteAsync(CancellationToken stoppingToken)
    {
        Log.DispatcherStarted(_logger, _handlers.Length, string.Join(", ", _handlers.Select(h => h.Name)));
        if (!_publishes)
        {
            Log.HostPublishesNoEvents(_logger);
        }

        // Set by the start that runs this, before it: a next start waits for these loops to end.
        var finalSaves = _finalSaves;
        var ended = _ended;
        var loops = new List<Task>(_handlers.Length + 1);
        for (var i = 0; i < _handlers.Length; i++)
        {
            var index = i;
            loops.Add(Task.Run(() => RunAndMarkAsync(() => RunHandlerAsync(index, finalSaves, stoppingToken), ended, index), CancellationToken.None));
        }

        // With no handler, nothing says which events have been handled: then none is purged.
        if (_options.EventRetention is { } retention && _handlers.Length > 0)
        {
            loops.Add(Task.Run(() => RunAndMarkAsync(() => RunPurgeAsync(retention, stoppingToken), ended, _handlers.Length), CancellationToken.None));
        }
        else
        {
            Volatile.Write(ref ended[_handlers.Length], true);
        }

        return Task.WhenAll(loops);
    }

    /// <summary>Runs a loop, and marks it ended in <paramref name="ended"/> at <paramref name="index"/> once it has.</summary>
    private static async Task RunAndMarkAsync(Func<Task> loop, bool[] ended, int index)
    {
        try
        {
            await loop().ConfigureAwait(false);
        }
        finally
        {
            Volatile.Write(ref ended[index], true);
        }
    }

    /// <summary>The back-off before retry number <paramref name="failures"/> (from 1): base × 2^(n−1), at most the maximum.</summary>
    internal static TimeSpan BackOff(int failures, TimeSpan baseDelay, TimeSpan maxDelay)
    {
        // Counts start at 1: one below is a count of failures in a row that wrapped past int.MaxValue, so as many as can be.
        var ticks = baseDelay.Ticks * Math.Pow(2, failures < 1 ? 62 : Math.Min(failures - 1, 62));
        return ticks >= maxDelay.Ticks ? maxDelay : TimeSpan.FromTicks((long)ticks);
    }

    private TimeSpan BackOff(int failures) => BackOff(failures, _options.RetryBaseDelay, _options.MaxRetryDelay);

    private Task DelayAsync(TimeSpan delay, CancellationToken cancellationToken) => Task.Delay(delay, _time, cancellationToken);

    private static bool IsStopping(Exception exception, CancellationToken stoppingToken) =>
        exception is OperationCanceledException && stoppingToken.IsCancellationRequested;

    /// <summary>
    /// Whether <paramref name="exception"/> is the container's refusal as it is disposed: an
    /// <see cref="ObjectDisposedException"/> met while the scope factory refuses a new scope. A host that disposes its
    /// services without stopping the dispatcher first has the container mark itself disposed, then dispose what it
    /// created, the dispatcher among them: until then a loop that asks it for a scope or a service (or whose handler
    /// does), or whose store call needs what the container created after the dispatcher (and so disposed before it),
    /// meets this, and nothing is wrong. The same exception from the host's code while the container still
    /// hands out scopes is a failure as any other. The exception may be the cause of another: a container that
    /// reports a failed resolution in an exception of its own holds the refusal inside it.
    /// </summary>
    private bool IsServicesDisposed(Exception exception)
    {
        if (!HasObjectDisposed(exception))
        {
            return false;
        }

        try
        {
            _scopes.CreateScope().Dispose();
            return false;
        }
        catch (ObjectDisposedException)
        {
            return true;
        }
    }

    /// <summary>Whether <paramref name="exception"/> is, or was caused by, an <see cref="ObjectDisposedException"/>.</summary>
    private static bool HasObjectDisposed(Exception exception) => exception switch
    {
        ObjectDisposedException => true,
        AggregateException aggregate => aggregate.InnerExceptions.Any(HasObjectDisposed),
        { InnerException: { } inner } => HasObjectDisposed(inner),
        _ => false,
    };

    private async Task RunHandlerAsync(int index, Task?[] finalSaves, CancellationToken stoppingToken)
    {
        var handler = _handlers[index];
        // The loop runs for the host's life: its handler calls' spans are roots, not children of whatever span was
        // current when the host started the dispatcher.
        Activity.Current = null;
        // Whatever else escapes a handler's loop (a store returning an event without a valid position, say)
        // restarts that loop from its saved checkpoint after a back-off, rather than ending it or the host.
        // The back-off grows with failures in a row: a loop that saved progress since its last failure starts
        // again from the first step.
        var progress = new DeliveryProgress();
        var failures = 0;
        while (true)
        {
            try
            {
                await DeliverAsync(index, progress, finalSaves, stoppingToken).ConfigureAwait(false);
                return;
            }
            catch (Exception exception) when (!IsStopping(exception, stoppingToken))
            {
                failures = progress.Saved ? 1 : failures + 1;
                progress.Saved = false;
                var delay = BackOff(failures);
                if (exception is EventConsumerLockLostException)
                {
                    Log.HandlerLockLost(_logger, handler.Name, delay, exception);
                }
                else
                {
                    Log.HandlerLoopFailed(_logger, handler.Name, delay, exception);
                }

                try
                {
                    await DelayAsync(delay, stoppingToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
                {
                    return;
                }
            }
        }
    }

    /// <summary>The loop of one handler; returns when the host stops or the handler is stopped by a poison event.</summary>
    private async Task DeliverAsync(int handlerIndex, DeliveryProgress progress, Task?[] finalSaves, CancellationToken stoppingToken)
    {
        var handler = _handlers[handlerIndex];
        EventCursor? cursor = null;
        EventCursor? saved = null;
        IEventConsumerLock? held = null;
        // The handler's lock first, when the store keeps them: the checkpoint is read, and every save made, under it.
        try
        {
            held = await LockAsync(handler, stoppingToken).ConfigureAwait(false);
            cursor = await CallStoreAsync(handler, "loading the checkpoint",
                ct => _store.LoadCheckpointAsync(handler.Name, ct), stoppingToken).ConfigureAwait(false) ?? EventCursor.Start;
            Log.HandlerResumed(_logger, handler.Name, cursor);
            saved = cursor;
            while (true)
            {
                var after = cursor;
                var page = await CallStoreAsync(handler, "reading events",
                    ct => _feed.ReadAsync(after, _options.PageSize, ct), stoppingToken).ConfigureAwait(false);
                if (page.Events.Count == 0)
                {
                    await CallStoreAsync(handler, "waiting for events", async ct =>
                    {
                        await _feed.WaitAsync(after, ct).ConfigureAwait(false);
                        return true;
                    }, stoppingToken).ConfigureAwait(false);
                    continue;
                }

                var stopped = false;
                var index = 0;
                var attempts = 0;
                var resolveFailures = 0;
                while (index < page.Events.Count)
                {
                    Exception? failure = null;
                    var scope = _scopes.CreateAsyncScope();
                    try
                    {
                        ICommerceEventHandler instance;
                        try
                        {
                            instance = (ICommerceEventHandler)scope.ServiceProvider.GetRequiredService(handler.HandlerType);
                        }
                        catch (Exception exception) when (!IsStopping(exception, stoppingToken))
                        {
                            // Not the event's fault (a registration or a dependency is broken): no delivery attempt is spent.
                            // Nor is it a fault once the host is stopping or the container refuses as it is disposed:
                            // the loop ends.
                            stoppingToken.ThrowIfCancellationRequested();
                            if (IsServicesDisposed(exception))
                            {
                                throw;
                            }

                            var delay = BackOff(++resolveFailures);
                            var pending = page.Events[index];
                            Log.HandlerNotResolved(_logger, handler.Name, handler.HandlerType.FullName ?? handler.HandlerType.Name, pending.GetType().Name, pending.Position, resolveFailures, delay, exception);
                            await DelayAsync(delay, stoppingToken).ConfigureAwait(false);
                            continue;
                        }

                        resolveFailures = 0;
                        if (!_disposerTaken[handlerIndex])
                        {
                            _disposerTaken[handlerIndex] = TakeDisposer();
                        }

                        for (; index < page.Events.Count; index++)
                        {
                            // No new call once the host is stopping: the loop ends, and the rest of the page comes again next time.
                            stoppingToken.ThrowIfCancellationRequested();
                            var @event = page.Events[index];
                            using var activity = DispatcherTelemetry.StartHandling(handler.Name, @event);
                            try
                            {
                                await instance.HandleAsync(@event, stoppingToken).ConfigureAwait(false);
                            }
                            catch (Exception exception) when (!IsStopping(exception, stoppingToken))
                            {
                                // Once the host is stopping, a failure says nothing about the event (a cancelled call
                                // may be reported with an exception of its own): it is delivered again next time. Nor
                                // does the container's refusal as it is disposed, which the call met.
                                stoppingToken.ThrowIfCancellationRequested();
                                if (IsServicesDisposed(exception))
                                {
                                    throw;
                                }

                                _telemetry.RecordFailure(handler.Name, @event, exception, activity);
                                failure = exception;
                                break;
                            }

                            _telemetry.RecordHandled(handler.Name, @event, _time);
                            attempts = 0;
                            cursor = cursor.Through(@event.Position);
                        }
                    }
                    finally
                    {
                        await DisposeScopeAsync(handler, scope).ConfigureAwait(false);
                    }

                    if (failure is null)
                    {
                        continue;
                    }

                    var failed = page.Events[index];
                    attempts++;
                    if (attempts >= _options.MaxDeliveryAttempts)
                    {
                        _telemetry.RecordPoison(handler.Name, failed, _options.PoisonEventPolicy);
                        if (_options.PoisonEventPolicy == PoisonEventPolicy.Stop)
                        {
                            Log.PoisonEventStopped(_logger, handler.Name, attempts, failed.GetType().Name, failed.Position, failure);
                            stopped = true;
                            break;
                        }

                        Log.PoisonEventSkipped(_logger, handler.Name, attempts, failed.GetType().Name, failed.Position, failure);
                        cursor = cursor.Through(failed.Position);
                        attempts = 0;
                        index++;
                        continue;
                    }

                    var retryIn = BackOff(attempts);
                    Log.HandlerFailed(_logger, handler.Name, failed.GetType().Name, failed.Position, attempts, _options.MaxDeliveryAttempts, retryIn, failure);
                    if (!cursor.Equals(saved))
                    {
                        // Keep what was handled before the failure, in case the host goes down while this event is retried.
                        saved = await SaveAsync(handler, held, cursor, stoppingToken).ConfigureAwait(false);
                        progress.Saved = true;
                    }

                    await DelayAsync(retryIn, stoppingToken).ConfigureAwait(false);
                }

                if (!stopped)
                {
                    // Everything the page read is handled (or skipped): the page's cursor covers no more than that.
                    cursor = cursor.Union(page.Next);
                }

                if (!cursor.Equals(saved))
                {
                    saved = await SaveAsync(handler, held, cursor, stoppingToken).ConfigureAwait(false);
                    progress.Saved = true;
                }

                if (stopped)
                {
                    return;
                }
            }
        }
        catch (Exception exception) when (IsStopping(exception, stoppingToken) || IsServicesDisposed(exception))
        {
            // The host is stopping (or disposing the container, which the dispatcher's dispose follows): what was
            // handled since the last save is saved now, within the host's time to stop; if that fails too, it is
            // delivered again next time.
            if (!IsStopping(exception, stoppingToken))
            {
                Log.HandlerLoopEndedByDisposal(_logger, handler.Name, exception);
            }

            if (cursor is not null && saved is not null && !cursor.Equals(saved))
            {
                await SaveAtStopAsync(handler, held, cursor, saved, finalSaves, handlerIndex).ConfigureAwait(false);
            }
        }
        finally
        {
            if (held is not null)
            {
                await ReleaseAsync(handler, held).ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// Takes the handler's lock when the store keeps consumer locks (<see langword="null"/> when it does not), asking
    /// again every <see cref="CommerceEventDispatcherOptions.LockRetryDelay"/> while another dispatcher holds it.
    /// </summary>
    private async Task<IEventConsumerLock?> LockAsync(EventHandlerRegistration handler, CancellationToken stoppingToken)
    {
        if (_locks is not { } locks)
        {
            return null;
        }

        var waited = false;
        while (true)
        {
            var held = await CallStoreAsync(handler, "taking the handler's lock",
                ct => locks.TryLockAsync(handler.Name, ct), stoppingToken).ConfigureAwait(false);
            if (held is not null)
            {
                if (waited)
                {
                    Log.HandlerLockTaken(_logger, handler.Name);
                }

                return held;
            }

            if (!waited)
            {
                Log.HandlerLockedElsewhere(_logger, handler.Name, _options.LockRetryDelay);
                waited = true;
            }

            await DelayAsync(_options.LockRetryDelay, stoppingToken).ConfigureAwait(false);
        }
    }

    /// <summary>Releases a handler's lock as its loop ends; a failure is logged (the store releases it with its connection).</summary>
    private async Task ReleaseAsync(EventHandlerRegistration handler, IEventConsumerLock held)
    {
        try
        {
            await held.DisposeAsync().ConfigureAwait(false);
        }
        catch (Exception exception)
        {
            Log.HandlerLockNotReleased(_logger, handler.Name, exception);
        }
    }

    /// <summary>Saves a checkpoint through the handler's lock when it holds one, to the store otherwise.</summary>
    private ValueTask SaveCheckpointAsync(EventHandlerRegistration handler, IEventConsumerLock? held, EventCursor cursor, CancellationToken cancellationToken) =>
        held is null ? _store.SaveCheckpointAsync(handler.Name, cursor, cancellationToken) : held.SaveCheckpointAsync(cursor, cancellationToken);

    /// <summary>
    /// Saves a stopping loop's progress once, bounded by the token the host stops the dispatcher with (by
    /// <see cref="CommerceEventDispatcherOptions.DisposeTimeout"/> when the dispatcher is disposed without a stop since
    /// it started, or when neither came and the loop ends because the token its start was given is cancelled or the
    /// container refused it as it is disposed); logs a failure. The store's call is kept in
    /// <paramref name="finalSaves"/> at <paramref name="index"/>, for a dispose to tell whether it has returned.
    /// </summary>
    private async Task SaveAtStopAsync(EventHandlerRegistration handler, IEventConsumerLock? held, EventCursor cursor, EventCursor saved, Task?[] finalSaves, int index)
    {
        CancellationTokenSource? timeout = null;
        SaveBound? saveBound = null;
        CancellationToken bound;
        lock (_lifetime)
        {
            if (_stopRequested || _disposed)
            {
                saveBound = _saveBound;
                bound = _stopToken;
            }
            else
            {
                // No stop or dispose came since the start: the start's token ended the loop (or the container's
                // refusal as it is disposed, before it disposes the dispatcher), and nothing gives the save a time,
                // which it would otherwise wait for without end (holding the loops, which a later stop or dispose
                // could not cut short). It gets a dispose's, which also ends before a later dispose's wait.
                timeout = new CancellationTokenSource(_options.DisposeTimeout, _time);
                bound = timeout.Token;
            }
        }

        using (timeout)
        {
            try
            {
                Task saving;
                if (saveBound is null)
                {
                    saving = SaveCheckpointAsync(handler, held, cursor, bound).AsTask();
                }
                else
                {
                    // Called and published under the bound's lock: a dispose that cancels it finds the call either
                    // not made yet (it is then made with the token cancelled) or returned, and told to give up.
                    using (saveBound.Enter())
                    {
                        saving = SaveCheckpointAsync(handler, held, cursor, bound).AsTask();
                        Volatile.Write(ref finalSaves[index], saving);
                    }
                }

                await saving.ConfigureAwait(false);
            }
            catch (Exception exception)
            {
                Log.CheckpointNotSavedAtStop(_logger, handler.Name, cursor, saved, exception);
            }
        }
    }

    /// <inheritdoc />
    /// <exception cref="InvalidOperationException">The dispatcher runs already (its loops have not all ended since it was last stopped).</exception>
    /// <exception cref="ObjectDisposedException">The dispatcher was disposed.</exception>
    public override Task StartAsync(CancellationToken cancellationToken)
    {
        // Under the lock, the checks and the start are one step: two starts at once cannot both pass the check, and a
        // dispose either sees the loops of a start to end them or comes before it.
        lock (_lifetime)
        {
            // Loops started now would run on services the container is disposing, and no dispose would come to end them.
            ObjectDisposedException.ThrowIf(_disposed, this);

            // A second set of loops would hand every handler each event again, alongside the first, and the stop
            // that follows would end only the second: one set at a time, and a new one once the last has ended.
            if (ExecuteTask is { IsCompleted: false })
            {
                throw new InvalidOperationException(
                    "The event dispatcher is running already: stop it, and let its delivery loops end, before starting it again.");
            }

            // A previous stop's token bounds nothing of this run: it may be cancelled by now, and a dispose without a
            // stop (which gives its own time) would then skip the save of what the loops handled since their last.
            _stopToken = CancellationToken.None;
            _finalSaves = new Task?[_handlers.Length];
            _ended = new bool[_handlers.Length + 1];
            _saveBound = null;
            _saveBounds.Clear();
            foreach (var registration in _stopRegistrations)
            {
                registration.Unregister();
            }

            _stopRegistrations.Clear();
            _stopRequested = false;
            return base.StartAsync(cancellationToken);
        }
    }

    /// <inheritdoc />
    public override Task StopAsync(CancellationToken cancellationToken)
    {
        // Set before the loops see the stop (the cancellation that tells them orders this write before their
        // reads): what they handled since their last save is saved within this token's time. Once the dispatcher
        // is disposed, the loops keep the dispose's time, cancelled if they outlived it: a stop after it (with a
        // token that may never be cancelled) must not let a loop still in a handler's call save against a store
        // the container has disposed since.
        lock (_lifetime)
        {
            if (!_disposed)
            {
                // The saves are bounded by a source of the dispatcher's, cancelled with the stop's token, so that a
                // dispose whose wait that token ends can tell them to give up itself, and know when they were told.
                var bound = new SaveBound();
                _stopRegistrations.Add(cancellationToken.UnsafeRegister(static state => ((SaveBound)state!).Cancel(), bound));
                _saveBounds.Add(bound);
                _saveBound = bound;
                _stopToken = bound.Token;
                _stopRequested = true;
            }
        }

        // Outside the lock: the cancellation may run the loops' continuations on this thread.
        return base.StopAsync(cancellationToken);
    }

    /// <summary>
    /// Ends the delivery loops, as a stop does, and waits for them to end: at most
    /// <see cref="CommerceEventDispatcherOptions.DisposeTimeout"/> (by the registered <see cref="TimeProvider"/>), and
    /// no longer than a stop called before allows (not at all once its token is cancelled). A container disposes the
    /// store after the dispatcher, so that the store is not disposed under a loop's call unless that call outlives
    /// the wait, which is then logged; it disposes the handlers' singletons after it too, through the
    /// <see cref="DispatcherDisposer"/> taken after each handler's first resolution. A second call does nothing.
    /// </summary>
    /// <returns>A task that completes once the loops have ended or the wait is over.</returns>
    public async ValueTask DisposeAsync()
    {
        Task? loops;
        CancellationTokenSource? timeout = null;
        SaveBound? saves = null;
        SaveBound[] bounds = [];
        bool[] ended = [];
        Task?[] finalSaves = [];
        lock (_lifetime)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            loops = ExecuteTask is { IsCompleted: false } running ? running : null;
            if (loops is not null)
            {
                timeout = new CancellationTokenSource(_options.DisposeTimeout, _time);
                ended = _ended;
                finalSaves = _finalSaves;
                if (_stopRequested && _saveBound is { } stopBound)
                {
                    saves = stopBound;
                }
                else
                {
                    // No stop gave the loops a time to save in: they get the dispose's. Set before they see the
                    // cancellation, as a stop's token is; a loop that reads it after the dispose has returned finds
                    // it cancelled (the wait ends early only once the loops have ended), so that no save starts
                    // against a store disposed by then.
                    saves = new SaveBound();
                    _saveBounds.Add(saves);
                    _saveBound = saves;
                    _stopToken = saves.Token;
                }

                bounds = [.. _saveBounds];
            }
        }

        // Outside the lock, as in StopAsync.
        base.Dispose();
        if (loops is null || timeout is null || saves is null)
        {
            return;
        }

        using (timeout)
        using (var wait = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token, saves.Token))
        {
            await loops.WaitAsync(wait.Token).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }

        if (loops.IsCompleted)
        {
            return;
        }

        // The wait is over: the saves under every bound of this run are told to give up (by this dispose, or by a
        // stop's token whose cancellation may still be telling them on another thread), and only then looked at. A
        // loop whose save has returned, told to give up, uses no service any more, though its continuation may not
        // have run yet: it is not reported. One still in a handler's call or in a save that heeds no token is.
        foreach (var bound in bounds)
        {
            bound.Cancel();
        }

        await Task.WhenAll(bounds.Select(b => b.Told)).ConfigureAwait(false);
        if (StillRun(ended, finalSaves))
        {
            Log.DisposedWhileLoopsRun(_logger, _options.DisposeTimeout);
        }
    }

    /// <summary>
    /// Whether a loop has not ended (by <paramref name="ended"/>) and may still call a handler or the store: a
    /// handler's loop whose save as it ends (in <paramref name="finalSaves"/>) has returned is only returning itself.
    /// </summary>
    private static bool StillRun(bool[] ended, Task?[] finalSaves)
    {
        for (var i = 0; i < ended.Length; i++)
        {
            if (!Volatile.Read(ref ended[i]) && (i >= finalSaves.Length || Volatile.Read(ref finalSaves[i]) is not { IsCompleted: true }))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// Disposes the dispatcher as <see cref="DisposeAsync"/> does, blocking until its loops have ended or the wait is
    /// over (as <c>Host.Dispose</c> blocks on <c>Host.DisposeAsync</c>): a container disposed synchronously disposes
    /// the store after it too.
    /// </summary>
    public override void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();

    /// <summary>
    /// Disposes a page's scope. A failure there (a scoped dependency's dispose throwing) is logged, not thrown:
    /// the events the handler handled in the scope stay handled, so that the page is not delivered again and
    /// again for a fault that is not the events'. The container's disposal (without a stop) met there is logged at
    /// <see cref="LogLevel.Debug"/> only.
    /// </summary>
    private async ValueTask DisposeScopeAsync(EventHandlerRegistration handler, AsyncServiceScope scope)
    {
        try
        {
            await scope.DisposeAsync().ConfigureAwait(false);
        }
        catch (Exception exception)
        {
            // A scoped service whose dispose needs what the container, disposed without a stop, disposed already (a
            // pool it returns a connection to, created after the dispatcher): the host is going down, nothing failed.
            if (IsServicesDisposed(exception))
            {
                Log.HandlerScopeDisposedAfterServices(_logger, handler.Name, exception);
                return;
            }

            Log.HandlerScopeDisposeFailed(_logger, handler.Name, exception);
        }
    }

    private async Task<EventCursor> SaveAsync(EventHandlerRegistration handler, IEventConsumerLock? held, EventCursor cursor, CancellationToken stoppingToken)
    {
        await CallStoreAsync(handler, "saving the checkpoint", async ct =>
        {
            await SaveCheckpointAsync(handler, held, cursor, ct).ConfigureAwait(false);
            return true;
        }, stoppingToken).ConfigureAwait(false);
        return cursor;
    }

    /// <summary>Calls the store until a call succeeds or the host stops, backing off after each failure.</summary>
    private async Task<T> CallStoreAsync<T>(EventHandlerRegistration handler, string operation, Func<CancellationToken, ValueTask<T>> call, CancellationToken stoppingToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await call(stoppingToken).ConfigureAwait(false);
            }
            catch (Exception exception) when (!IsStopping(exception, stoppingToken) && exception is not EventConsumerLockLostException)
            {
                // A lost lock is not retried here: the loop ends, releases it, and takes it again (see RunHandlerAsync).
                // Once the host is stopping, a failure says nothing about the store (a call cut short may be reported
                // with an exception of its own): nothing is retried, and the loop ends as it does on a cancellation.
                // Nor does a dependency of the store's that the container disposed (one it created after the
                // dispatcher, and so disposes before it) once it refuses as it is disposed: the loop ends.
                stoppingToken.ThrowIfCancellationRequested();
                if (IsServicesDisposed(exception))
                {
                    throw;
                }

                var delay = BackOff(attempt);
                Log.StoreCallFailed(_logger, handler.Name, operation, attempt, delay, exception);
                await DelayAsync(delay, stoppingToken).ConfigureAwait(false);
            }
        }
    }

    private async Task RunPurgeAsync(TimeSpan retention, CancellationToken stoppingToken)
    {
        Activity.Current = null; // as a handler's loop: its store calls' spans join no span of the host's start
        try
        {
            while (true)
            {
                await DelayAsync(_options.PurgeInterval, stoppingToken).ConfigureAwait(false);
                try
                {
                    await PurgeAsync(retention, stoppingToken).ConfigureAwait(false);
                }
                catch (Exception exception) when (!stoppingToken.IsCancellationRequested)
                {
                    // A store's dependency the container disposed as it is disposed without a stop (the dispatcher's
                    // dispose follows): the purge ends, as at a stop, and the next start's first purge comes in time.
                    if (IsServicesDisposed(exception))
                    {
                        Log.PurgeEndedByDisposal(_logger, exception);
                        return;
                    }

                    Log.PurgeFailed(_logger, exception);
                }
            }
        }
        catch (Exception) when (stoppingToken.IsCancellationRequested)
        {
            // The host is stopping: a purge that failed meanwhile (a call cut short may be reported with an exception
            // of its own) is not tried again; what it removed stays removed.
        }
    }

    /// <summary>
    /// Removes the events older than the retention that every handler's saved checkpoint covers: older by the clock
    /// and by the time that passed (a clock that jumped ahead would make a reader polling within the retention miss
    /// the events of the jump's length). A cutoff at or before the calendar's start (a clock near it, a long
    /// retention) leaves no event old enough: nothing is purged.
    /// </summary>
    private async Task PurgeAsync(TimeSpan retention, CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow();
        // In ticks: DateTimeOffset arithmetic throws for an instant before the calendar's start.
        var cutoff = now.UtcTicks - retention.Ticks - _jumps.Ahead(now, retention).Ticks;
        if (cutoff <= 0)
        {
            Log.NothingOldEnoughToPurge(_logger, retention, now);
            return;
        }

        var before = new DateTimeOffset(cutoff, TimeSpan.Zero);
        EventCursor? upTo = null;
        foreach (var handler in _handlers)
        {
            var checkpoint = await _store.LoadCheckpointAsync(handler.Name, cancellationToken).ConfigureAwait(false) ?? EventCursor.Start;
            upTo = upTo is null ? checkpoint : upTo.Intersect(checkpoint);
        }

        if (upTo is null || upTo.IsStart)
        {
            Log.PurgeSkipped(_logger);
            return;
        }

        var count = await _store.PurgeEventsAsync(before, upTo, cancellationToken).ConfigureAwait(false);
        _telemetry.RecordPurged(count);
        Log.EventsPurged(_logger, count, before, upTo);
    }

    /// <summary>
    /// Resolves a <see cref="DispatcherDisposer"/> from the root provider, which keeps it to dispose before everything
    /// it created earlier: after a handler's first resolution, that is before the singletons it created for the handler
    /// (created after the dispatcher, they are disposed before it). Returns whether one was taken: not while the
    /// container is being disposed (the dispatcher's own dispose follows).
    /// </summary>
    private bool TakeDisposer()
    {
        try
        {
            if (_services.GetService<DispatcherDisposer>() is not { } disposer)
            {
                return false;
            }

            disposer.Dispatcher = this;
            return true;
        }
        catch (ObjectDisposedException)
        {
            return false;
        }
    }

    /// <summary>
    /// The token that bounds the saves the loops make as they end, once a stop or a dispose gave them a time. Whoever
    /// ends that time cancels it (a stop's token through a registration, or a dispose whose wait is over); the first
    /// to do so tells every save registered on it, and <see cref="Told"/> completes once it has. A save is called under
    /// <see cref="Enter"/>, which the cancellation takes too, so that it is told before its call or once the call has
    /// returned its task, never in between (the store's synchronous part, which a thread may be taken off the processor
    /// in, included).
    /// </summary>
    private sealed class SaveBound
    {
        private readonly CancellationTokenSource _source = new();
        private readonly TaskCompletionSource _told = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly Lock _lock = new();
        private bool _cancelled;

        public CancellationToken Token => _source.Token;

        /// <summary>Completes once the first <see cref="Cancel"/> has run every callback of <see cref="Token"/>.</summary>
        public Task Told => _told.Task;

        /// <summary>Holds off a cancellation until the scope is disposed: a save is called, and its task kept, within it.</summary>
        public Lock.Scope Enter() => _lock.EnterScope();

        /// <summary>
        /// Cancels <see cref="Token"/> once no save is being called. A call after the first, or made by the first's
        /// callbacks on its own thread, returns at once without waiting for it: <see cref="Told"/> says when it is done.
        /// </summary>
        public void Cancel()
        {
            using (_lock.EnterScope())
            {
                if (_cancelled)
                {
                    return;
                }

                _cancelled = true;
                try
                {
                    _source.Cancel();
                }
                finally
                {
                    _told.TrySetResult();
                }
            }
        }
    }

    /// <summary>Whether a handler's loop saved a checkpoint since its last failure (it then made progress).</summary>
    private sealed class DeliveryProgress
    {
        public bool Saved { get; set; }
    }
}
