using System.Globalization;

namespace Commerce;

/// <summary>The library's error messages, in one place so they read alike.</summary>
internal static class Errors
{
    private static string Format(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

    public static CommerceError NonPositiveAmount(Money amount) =>
        new(CommerceErrorCode.InvalidAmount, Format($"The amount must be greater than zero, but was {amount}."));

    public static CommerceError NegativePrice(Money price) =>
        new(CommerceErrorCode.InvalidAmount, Format($"A price cannot be negative, but was {price}."));

    public static CommerceError NegativeDebit(Money amount) =>
        new(CommerceErrorCode.InvalidAmount, Format($"A debit cannot be negative, but was {amount}."));

    public static CommerceError ChargeLimitExceeded(Money amount, Money limit) =>
        new(CommerceErrorCode.ChargeLimitExceeded, Format($"A single charge may be at most {limit} (CommerceOptions.MaxChargeAmount), but was {amount}."));

    public static CommerceError BalanceLimitExceeded(Money balance, Money amount, Money limit) =>
        new(CommerceErrorCode.BalanceLimitExceeded, Format($"Adding {amount} to the balance of {balance} would exceed the maximum balance of {limit} (CommerceOptions.MaxBalance)."));

    public static CommerceError InsufficientBalance(Money balance, Money required) =>
        new(CommerceErrorCode.InsufficientBalance, Format($"The balance of {balance} is less than the {required} required."));

    public static CommerceError InsufficientStock(IEnumerable<ProductId> productIds)
    {
        var ids = productIds.Order().ToArray();
        return new(CommerceErrorCode.InsufficientStock, Format($"Not enough stock for product(s) {string.Join(", ", ids)}."), ids);
    }

    public static CommerceError InsufficientStock(ProductId productId, int onHand, int requested) =>
        new(CommerceErrorCode.InsufficientStock, Format($"Product {productId} has {onHand} in stock, fewer than the {requested} requested."), [productId]);

    public static CommerceError ProductNotFound(IEnumerable<ProductId> productIds)
    {
        var ids = productIds.Order().ToArray();
        return new(CommerceErrorCode.ProductNotFound, Format($"Unknown product(s) {string.Join(", ", ids)}."), ids);
    }

    public static CommerceError ProductNotFound(ProductId productId) => ProductNotFound([productId]);

    public static CommerceError ProductAlreadyExists(ProductId productId) =>
        new(CommerceErrorCode.ProductAlreadyExists, Format($"A product with id {productId} already exists."), [productId]);

    public static CommerceError InvalidProductName(string name, int maxLength) =>
        new(CommerceErrorCode.InvalidProductName, name.Length == 0 ? "A product name cannot be empty."
            : string.IsNullOrWhiteSpace(name) ? "A product name cannot be only white space."
            : name.Length > maxLength ? Format($"A product name may have at most {maxLength} characters (CommerceOptions.MaxProductNameLength), but had {name.Length}.")
            : "A product name cannot hold a control character or an unpaired surrogate, but held one.");

    public static CommerceError NonPositiveQuantity(int quantity) =>
        new(CommerceErrorCode.InvalidQuantity, Format($"The quantity must be greater than zero, but was {quantity}."));

    public static CommerceError NegativeQuantity(int quantity) =>
        new(CommerceErrorCode.InvalidQuantity, Format($"The quantity cannot be negative, but was {quantity}."));

    public static CommerceError QuantityLimitExceeded(long quantity, int limit) =>
        new(CommerceErrorCode.InvalidQuantity, Format($"The quantity of a line may be at most {limit} (CommerceOptions.MaxLineQuantity), but would be {quantity}."));

    public static CommerceError StockOverflow(ProductId productId) =>
        new(CommerceErrorCode.InvalidQuantity, Format($"Restocking product {productId} would take its stock above {int.MaxValue}."), [productId]);

    public static CommerceError EmptyOrder() =>
        new(CommerceErrorCode.EmptyOrder, "An order needs at least one line.");

    public static CommerceError TooManyLines(int count, int limit) =>
        new(CommerceErrorCode.TooManyLines, Format($"An order may have at most {limit} distinct products (CommerceOptions.MaxOrderLines), but had {count}."));

    public static CommerceError CartFull(int limit) =>
        new(CommerceErrorCode.TooManyLines, Format($"A cart may hold at most {limit} distinct products (CommerceOptions.MaxOrderLines, as an order); remove one, or add units of a product it holds."));

    public static CommerceError AmountOverflow() =>
        new(CommerceErrorCode.AmountOverflow, "The total does not fit in a 64-bit amount.");

    public static CommerceError CartItemNotFound(UserId user, ProductId productId) =>
        new(CommerceErrorCode.CartItemNotFound, Format($"The cart of user {user} has no line for product {productId}."), [productId]);

    public static CommerceError OrderAlreadyCancelled(OrderId orderId) =>
        new(CommerceErrorCode.OrderAlreadyCancelled, Format($"The order {orderId} was cancelled already."));

    /// <summary>
    /// Refuses an invalid key, saying what is wrong with it without repeating it: a key may be as private as a
    /// password, and this message reaches logs and clients.
    /// </summary>
    public static CommerceError InvalidIdempotencyKey(IdempotencyKey key)
    {
        var value = key.Value;
        var rule = Format($"An idempotency key must have 1 to {IdempotencyKey.MaxLength} printable ASCII characters (U+0020 to U+007E)");
        if (value.Length == 0)
        {
            return new(CommerceErrorCode.InvalidIdempotencyKey, rule + ", but this one was empty.");
        }

        if (value.Length > IdempotencyKey.MaxLength)
        {
            return new(CommerceErrorCode.InvalidIdempotencyKey, rule + Format($", but this one had {value.Length} characters."));
        }

        var index = value.AsSpan().IndexOfAnyExceptInRange(' ', '~');
        return new(CommerceErrorCode.InvalidIdempotencyKey, rule + Format($", but this one had U+{(int)value[Math.Max(index, 0)]:X4} at index {index}."));
    }

    public static CommerceError IdempotencyKeyReused(string operation) =>
        new(CommerceErrorCode.IdempotencyKeyReused, Format($"The idempotency key was used before for a different {operation} request."));

    public static CommerceError OrderNotFound(OrderId orderId) =>
        new(CommerceErrorCode.OrderNotFound, Format($"No order has the id {orderId}."));

    public static CommerceError StoreUnavailable(string operation, int attempts, bool retryable = true) =>
        new(CommerceErrorCode.StoreUnavailable, retryable
            ? Format($"{operation} gave up after {attempts} attempts (CommerceOptions.MaxCommitAttempts), the last refused by the store (unavailable); nothing was changed.")
            : Format($"{operation} found the store unavailable on attempt {attempts} and did not retry: the store had already waited as long as a caller should (for a free connection, for example), so the further attempts CommerceOptions.MaxCommitAttempts allows were not made; nothing was changed."));

    public static CommerceError ConcurrencyConflict(string operation, int attempts) =>
        new(CommerceErrorCode.ConcurrencyConflict, Format($"{operation} gave up after {attempts} attempts (CommerceOptions.MaxCommitAttempts), the last conflicting with concurrent operations; nothing was changed."));

    /// <summary>The exception for an argument above a limit that a <see cref="CommerceOptions"/> property sets, naming that property.</summary>
    /// <param name="paramName">The argument's name.</param>
    /// <param name="value">The argument.</param>
    /// <param name="limit">The option's value.</param>
    /// <param name="option">The option's name.</param>
    public static ArgumentOutOfRangeException AboveOptionLimit<T>(string paramName, T value, T limit, string option)
        where T : notnull =>
        new(paramName, value, Format($"{paramName} may be at most {limit} (CommerceOptions.{option}), but was {value}."));
}
