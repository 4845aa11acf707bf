using Microsoft.Extensions.Logging;

namespace Commerce.Postgres;

/// <summary>Every log message of the PostgreSQL store, with stable event ids (13xx).</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 1301, EventName = "EventNotificationFailed", Level = LogLevel.Warning,
        Message = "The notification waking the waiters for events failed; they will find the events at their next check.")]
    public static partial void EventNotificationFailed(ILogger logger, Exception exception);
}
