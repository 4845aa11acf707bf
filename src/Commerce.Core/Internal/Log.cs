using Microsoft.Extensions.Logging;

namespace Commerce;

/// <summary>Every log message of the library, with stable event ids (1xx wallets, 2xx catalog, 3xx orders, 9xx storage).</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 101, EventName = "WalletCharged", Level = LogLevel.Information,
        Message = "Charged {Amount} to the wallet of user {UserId}; the balance is now {Balance}.")]
    public static partial void WalletCharged(ILogger logger, UserId userId, Money amount, Money balance);

    [LoggerMessage(EventId = 102, EventName = "ChargeRefused", Level = LogLevel.Information,
        Message = "Refused to charge {Amount} to the wallet of user {UserId}: {ErrorCode} ({ErrorMessage}).")]
    public static partial void ChargeRefused(ILogger logger, UserId userId, Money amount, CommerceErrorCode errorCode, string errorMessage);

    [LoggerMessage(EventId = 201, EventName = "ProductAdded", Level = LogLevel.Information,
        Message = "Added product {ProductId} '{Name}' at {Price} with {Stock} in stock.")]
    public static partial void ProductAdded(ILogger logger, ProductId productId, string name, Money price, int stock);

    [LoggerMessage(EventId = 202, EventName = "ProductRestocked", Level = LogLevel.Information,
        Message = "Restocked product {ProductId} by {Quantity}; {Stock} in stock.")]
    public static partial void ProductRestocked(ILogger logger, ProductId productId, int quantity, int stock);

    [LoggerMessage(EventId = 203, EventName = "CatalogChangeRefused", Level = LogLevel.Information,
        Message = "Refused to change product {ProductId}: {ErrorCode} ({ErrorMessage}).")]
    public static partial void CatalogChangeRefused(ILogger logger, ProductId productId, CommerceErrorCode errorCode, string errorMessage);

    [LoggerMessage(EventId = 301, EventName = "OrderPlaced", Level = LogLevel.Information,
        Message = "Placed order {OrderId} for user {UserId}: {LineCount} line(s), total {Total}.")]
    public static partial void OrderPlaced(ILogger logger, OrderId orderId, UserId userId, int lineCount, Money total);

    [LoggerMessage(EventId = 302, EventName = "OrderRefused", Level = LogLevel.Information,
        Message = "Refused an order for user {UserId}: {ErrorCode} ({ErrorMessage}).")]
    public static partial void OrderRefused(ILogger logger, UserId userId, CommerceErrorCode errorCode, string errorMessage);

    [LoggerMessage(EventId = 103, EventName = "IdempotencyPurged", Level = LogLevel.Debug,
        Message = "Purged {Count} expired idempotency record(s).")]
    public static partial void IdempotencyPurged(ILogger logger, int count);

    [LoggerMessage(EventId = 104, EventName = "IdempotencyPurgeFailed", Level = LogLevel.Warning,
        Message = "Purging expired idempotency records failed; the next purge will try again.")]
    public static partial void IdempotencyPurgeFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 105, EventName = "IdempotencyPurgeCancelled", Level = LogLevel.Debug,
        Message = "Purging expired idempotency records was cancelled with the request that ran it; the next keyed request will purge.")]
    public static partial void IdempotencyPurgeCancelled(ILogger logger);

    [LoggerMessage(EventId = 303, EventName = "OrderCancelled", Level = LogLevel.Information,
        Message = "Cancelled order {OrderId} of user {UserId}: refunded {Total}.")]
    public static partial void OrderCancelled(ILogger logger, OrderId orderId, UserId userId, Money total);

    [LoggerMessage(EventId = 304, EventName = "CancelRefused", Level = LogLevel.Information,
        Message = "Refused to cancel order {OrderId}: {ErrorCode} ({ErrorMessage}).")]
    public static partial void CancelRefused(ILogger logger, OrderId orderId, CommerceErrorCode errorCode, string errorMessage);

    [LoggerMessage(EventId = 901, EventName = "CommitConflict", Level = LogLevel.Debug,
        Message = "{Operation} conflicted with a concurrent commit on attempt {Attempt}; retrying.")]
    public static partial void CommitConflict(ILogger logger, string operation, int attempt);

    [LoggerMessage(EventId = 902, EventName = "RetriesExhausted", Level = LogLevel.Warning,
        Message = "{Operation} gave up after {Attempts} attempts, the last conflicting; nothing was changed.")]
    public static partial void RetriesExhausted(ILogger logger, string operation, int attempts);

    [LoggerMessage(EventId = 903, EventName = "StoreUnavailable", Level = LogLevel.Debug,
        Message = "{Operation} found the store unavailable on attempt {Attempt}; retrying.")]
    public static partial void StoreUnavailable(ILogger logger, string operation, int attempt, Exception exception);

    [LoggerMessage(EventId = 904, EventName = "StoreUnavailableRetriesExhausted", Level = LogLevel.Warning,
        Message = "{Operation} gave up on attempt {Attempts}, refused by the store; nothing was changed.")]
    public static partial void StoreUnavailableRetriesExhausted(ILogger logger, string operation, int attempts, Exception exception);

    [LoggerMessage(EventId = 905, EventName = "SessionCloseFailedAfterCommit", Level = LogLevel.Warning,
        Message = "{Operation} committed, then closing its store session failed; the outcome stands.")]
    public static partial void SessionCloseFailedAfterCommit(ILogger logger, string operation, Exception exception);
}
