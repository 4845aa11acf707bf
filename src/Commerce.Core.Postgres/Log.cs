using Microsoft.Extensions.Logging;

namespace Commerce.Postgres;

/// <summary>Every log message of the PostgreSQL store, with stable event ids (13xx).</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 1301, EventName = "EventNotificationFailed", Level = LogLevel.Warning,
        Message = "The notification waking the waiters for events failed; they will find the events at their next check.")]
    public static partial void EventNotificationFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 1302, EventName = "UnlistenFailed", Level = LogLevel.Warning,
        Message = "The UNLISTEN of a cancelled wait for events failed; its connection went back to the pool as it was.")]
    public static partial void UnlistenFailed(ILogger logger, Exception exception);
}
