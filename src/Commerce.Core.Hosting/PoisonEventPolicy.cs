namespace Commerce;

/// <summary>
/// What the event dispatcher does with a poison event: one a handler failed on
/// <see cref="CommerceEventDispatcherOptions.MaxDeliveryAttempts"/> times in a row.
/// </summary>
public enum PoisonEventPolicy
{
    /// <summary>
    /// Log it at <c>Error</c> (with the handler, the event's position and the last exception), move the
    /// handler's checkpoint past it and go on with the next event. The default: one bad event never stops
    /// a handler. The skip is saved with the handler's checkpoint after the page: a crash before that delivers
    /// the event again, with a fresh count of attempts.
    /// </summary>
    Skip = 0,

    /// <summary>
    /// Log it at <c>Error</c> and stop that handler (the others go on): its checkpoint stays before the
    /// event, so it is delivered again when the host restarts, and the retention keeps every event from it on.
    /// </summary>
    Stop = 1,
}
