namespace Commerce;

/// <summary>
/// The stable code of an expected business outcome. Codes never change their numeric value, so they
/// may be stored or sent over the wire.
/// </summary>
public enum CommerceErrorCode
{
    /// <summary>An amount is zero, negative or otherwise not allowed for the operation.</summary>
    InvalidAmount = 1,

    /// <summary>A charge would take the balance above the configured maximum balance.</summary>
    BalanceLimitExceeded = 2,

    /// <summary>The wallet holds less than the order's total.</summary>
    InsufficientBalance = 3,

    /// <summary>One or more products have less stock than ordered; <see cref="CommerceError.ProductIds"/> names every one.</summary>
    InsufficientStock = 4,

    /// <summary>One or more products do not exist; <see cref="CommerceError.ProductIds"/> names every one.</summary>
    ProductNotFound = 5,

    /// <summary>A product with the same id already exists; <see cref="CommerceError.ProductIds"/> names it.</summary>
    ProductAlreadyExists = 6,

    /// <summary>
    /// A quantity is zero, negative, above the configured limit, or the result would overflow; when a stock would pass
    /// <see cref="int.MaxValue"/>, <see cref="CommerceError.ProductIds"/> names its product.
    /// </summary>
    InvalidQuantity = 7,

    /// <summary>An order has no lines.</summary>
    EmptyOrder = 8,

    /// <summary>The cart has no line for the product; <see cref="CommerceError.ProductIds"/> names it.</summary>
    CartItemNotFound = 9,

    /// <summary>No order has the id.</summary>
    OrderNotFound = 10,

    /// <summary>The operation kept conflicting with concurrent operations and gave up after the configured number of attempts; nothing was changed.</summary>
    ConcurrencyConflict = 11,

    /// <summary>A single charge is above the configured per-charge limit.</summary>
    ChargeLimitExceeded = 12,

    /// <summary>A product name is empty, only white space, longer than the configured limit, or holds a control character or an unpaired surrogate.</summary>
    InvalidProductName = 13,

    /// <summary>A money total (an order's or a cart's) does not fit in a 64-bit amount.</summary>
    AmountOverflow = 14,

    /// <summary>An order has more lines than the configured limit.</summary>
    TooManyLines = 15,

    /// <summary>An idempotency key was used before, by the same user for the same kind of operation, with a different request.</summary>
    IdempotencyKeyReused = 16,

    /// <summary>An idempotency key is empty, longer than 128 characters, or holds a character outside printable ASCII.</summary>
    InvalidIdempotencyKey = 17,

    /// <summary>The order was cancelled already.</summary>
    OrderAlreadyCancelled = 18,

    /// <summary>
    /// The store refused the last of the attempts the retry budget allows (<see cref="CommerceOptions.MaxCommitAttempts"/>;
    /// earlier ones may have conflicted):
    /// for example a database with no connection left, or shutting down or starting up
    /// (<see cref="StoreUnavailableException"/>). Nothing was changed; the request may be retried later.
    /// </summary>
    StoreUnavailable = 19,
}
