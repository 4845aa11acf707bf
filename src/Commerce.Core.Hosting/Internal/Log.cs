using Microsoft.Extensions.Logging;

namespace Commerce.Events;

/// <summary>Every log message of the event dispatcher, with stable event ids (11xx delivery, 12xx retention).</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 1101, EventName = "DispatcherStarted", Level = LogLevel.Information,
        Message = "The event dispatcher started for {HandlerCount} handler(s): {Handlers}.")]
    public static partial void DispatcherStarted(ILogger logger, int handlerCount, string handlers);

    [LoggerMessage(EventId = 1102, EventName = "HandlerResumed", Level = LogLevel.Debug,
        Message = "Event handler {Handler} resumes after checkpoint '{Checkpoint}'.")]
    public static partial void HandlerResumed(ILogger logger, string handler, EventCursor checkpoint);

    [LoggerMessage(EventId = 1103, EventName = "HandlerFailed", Level = LogLevel.Warning,
        Message = "Event handler {Handler} failed on {EventType} at {Position} (attempt {Attempt} of {MaxAttempts}); retrying in {Delay}.")]
    public static partial void HandlerFailed(ILogger logger, string handler, string eventType, EventPosition position, int attempt, int maxAttempts, TimeSpan delay, Exception exception);

    [LoggerMessage(EventId = 1104, EventName = "PoisonEventSkipped", Level = LogLevel.Error,
        Message = "Event handler {Handler} failed {Attempts} times on {EventType} at {Position}; the event is skipped (poison event) and the handler will not see it.")]
    public static partial void PoisonEventSkipped(ILogger logger, string handler, int attempts, string eventType, EventPosition position, Exception exception);

    [LoggerMessage(EventId = 1105, EventName = "PoisonEventStopped", Level = LogLevel.Error,
        Message = "Event handler {Handler} failed {Attempts} times on {EventType} at {Position}; the handler stops (poison event policy Stop) and its checkpoint stays before the event until the host restarts.")]
    public static partial void PoisonEventStopped(ILogger logger, string handler, int attempts, string eventType, EventPosition position, Exception exception);

    [LoggerMessage(EventId = 1106, EventName = "StoreCallFailed", Level = LogLevel.Warning,
        Message = "Event handler {Handler}: {Operation} failed (attempt {Attempt}); retrying in {Delay}.")]
    public static partial void StoreCallFailed(ILogger logger, string handler, string operation, int attempt, TimeSpan delay, Exception exception);

    [LoggerMessage(EventId = 1107, EventName = "HandlerNotResolved", Level = LogLevel.Error,
        Message = "Event handler {Handler} ({HandlerType}) could not be resolved to handle {EventType} at {Position} (attempt {Attempt}); retrying in {Delay}.")]
    public static partial void HandlerNotResolved(ILogger logger, string handler, string handlerType, string eventType, EventPosition position, int attempt, TimeSpan delay, Exception exception);

    [LoggerMessage(EventId = 1108, EventName = "HandlerLoopFailed", Level = LogLevel.Error,
        Message = "The delivery loop of event handler {Handler} failed unexpectedly; it restarts from its saved checkpoint in {Delay}.")]
    public static partial void HandlerLoopFailed(ILogger logger, string handler, TimeSpan delay, Exception exception);

    [LoggerMessage(EventId = 1109, EventName = "HandlerScopeDisposeFailed", Level = LogLevel.Warning,
        Message = "Disposing the service scope of event handler {Handler} failed; the events handled in it count as handled.")]
    public static partial void HandlerScopeDisposeFailed(ILogger logger, string handler, Exception exception);

    [LoggerMessage(EventId = 1110, EventName = "CheckpointNotSavedAtStop", Level = LogLevel.Warning,
        Message = "The dispatcher stopped (by its host, or disposed) before event handler {Handler} could save its checkpoint '{Checkpoint}'; the events it handled after its saved checkpoint '{SavedCheckpoint}' are delivered again when it restarts.")]
    public static partial void CheckpointNotSavedAtStop(ILogger logger, string handler, EventCursor checkpoint, EventCursor savedCheckpoint, Exception exception);

    [LoggerMessage(EventId = 1111, EventName = "HostPublishesNoEvents", Level = LogLevel.Information,
        Message = "This host publishes no events (CommerceOptions.PublishEvents is false): its event handlers get only the events that other hosts sharing the store publish.")]
    public static partial void HostPublishesNoEvents(ILogger logger);

    [LoggerMessage(EventId = 1112, EventName = "DisposedWhileLoopsRun", Level = LogLevel.Warning,
        Message = "The event dispatcher was disposed while delivery loops still ran, its wait for them over (DisposeTimeout {DisposeTimeout} passed, or the time of the stop before ran out): a handler call or checkpoint save that has not ended may meet the services disposed after the dispatcher.")]
    public static partial void DisposedWhileLoopsRun(ILogger logger, TimeSpan disposeTimeout);

    [LoggerMessage(EventId = 1113, EventName = "HandlerLoopEndedByDisposal", Level = LogLevel.Debug,
        Message = "The delivery loop of event handler {Handler} ends: the service provider, disposed without a stop of the dispatcher first, refused it a scope or a service, or disposed what its store call needed; it resumes from its checkpoint when the host starts again.")]
    public static partial void HandlerLoopEndedByDisposal(ILogger logger, string handler, Exception exception);

    [LoggerMessage(EventId = 1114, EventName = "HandlerScopeDisposedAfterServices", Level = LogLevel.Debug,
        Message = "Disposing the service scope of event handler {Handler} met the service provider disposed without a stop of the dispatcher first; the events handled in it count as handled.")]
    public static partial void HandlerScopeDisposedAfterServices(ILogger logger, string handler, Exception exception);

    [LoggerMessage(EventId = 1115, EventName = "HandlerLockedElsewhere", Level = LogLevel.Information,
        Message = "Event handler {Handler} is delivered by another dispatcher on the same store (it holds the handler's lock); this one asks again every {RetryDelay} and takes over when that one stops.")]
    public static partial void HandlerLockedElsewhere(ILogger logger, string handler, TimeSpan retryDelay);

    [LoggerMessage(EventId = 1116, EventName = "HandlerLockTaken", Level = LogLevel.Information,
        Message = "Event handler {Handler}: this dispatcher took its lock and delivers it from its saved checkpoint.")]
    public static partial void HandlerLockTaken(ILogger logger, string handler);

    [LoggerMessage(EventId = 1117, EventName = "HandlerLockLost", Level = LogLevel.Warning,
        Message = "Event handler {Handler} lost its lock (another dispatcher may deliver it now); its checkpoint was not saved. Taking the lock again in {RetryIn}; the events since its last save are delivered again by whoever holds it.")]
    public static partial void HandlerLockLost(ILogger logger, string handler, TimeSpan retryIn, Exception exception);

    [LoggerMessage(EventId = 1118, EventName = "HandlerLockNotReleased", Level = LogLevel.Warning,
        Message = "Event handler {Handler}: releasing its lock failed; the store releases it when the connection that holds it closes.")]
    public static partial void HandlerLockNotReleased(ILogger logger, string handler, Exception exception);

    [LoggerMessage(EventId = 1201, EventName = "EventsPurged", Level = LogLevel.Information,
        Message = "Purged {Count} event(s) committed before {Before} and handled by every handler (up to '{UpTo}').")]
    public static partial void EventsPurged(ILogger logger, long count, DateTimeOffset before, EventCursor upTo);

    [LoggerMessage(EventId = 1202, EventName = "PurgeSkipped", Level = LogLevel.Debug,
        Message = "No event purged: no event has been handled by every handler yet.")]
    public static partial void PurgeSkipped(ILogger logger);

    [LoggerMessage(EventId = 1203, EventName = "PurgeFailed", Level = LogLevel.Warning,
        Message = "Purging the event log failed; the next purge will try again.")]
    public static partial void PurgeFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 1204, EventName = "NothingOldEnoughToPurge", Level = LogLevel.Debug,
        Message = "No event purged: the retention {Retention} reaches back from {Now} to the calendar's start or before, so no event is older than it.")]
    public static partial void NothingOldEnoughToPurge(ILogger logger, TimeSpan retention, DateTimeOffset now);

    [LoggerMessage(EventId = 1205, EventName = "PurgeEndedByDisposal", Level = LogLevel.Debug,
        Message = "The purge ends: the service provider, disposed without a stop of the dispatcher first, disposed what the store's call needed; the next start purges again.")]
    public static partial void PurgeEndedByDisposal(ILogger logger, Exception exception);
}
