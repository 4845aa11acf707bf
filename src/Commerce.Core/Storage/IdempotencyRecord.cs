namespace Commerce.Storage;

/// <summary>The kinds of operation that take an idempotency key (each has its own key space per user).</summary>
public enum IdempotentOperation : byte
{
    /// <summary>A charge.</summary>
    Charge = 1,

    /// <summary>An order placed from lines.</summary>
    PlaceOrder = 2,

    /// <summary>An order placed from the cart.</summary>
    Checkout = 3,
}

/// <summary>
/// The stored outcome of the first request made with an idempotency key, written in the same commit as
/// that request's changes (or alone, for a refusal).
/// </summary>
/// <param name="UserId">The user.</param>
/// <param name="Operation">The kind of operation.</param>
/// <param name="Key">The key, as the client sent it.</param>
/// <param name="RequestHash">A digest of the request (the amount; the merged lines), to recognise a different request under the same key.</param>
/// <param name="CreatedAt">When the first request committed, from the host's clock; the record expires <see cref="CommerceOptions.IdempotencyRetention"/> later.</param>
/// <param name="Error">The refusal, or <see langword="null"/> if the request succeeded.</param>
/// <param name="Balance">For a successful charge, the balance it returned.</param>
/// <param name="OrderId">For a successful order or checkout, the order it placed.</param>
public sealed record IdempotencyRecord(
    UserId UserId,
    IdempotentOperation Operation,
    string Key,
    long RequestHash,
    DateTimeOffset CreatedAt,
    CommerceError? Error,
    Money Balance,
    OrderId? OrderId);
