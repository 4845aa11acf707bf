namespace Commerce;

/// <summary>Adds to, removes from and shows users' carts.</summary>
/// <remarks>Thread-safe.</remarks>
public interface ICartService
{
    /// <summary>Adds units of a product to a user's cart, creating the cart if absent and increasing the line if present.</summary>
    /// <param name="user">The owner.</param>
    /// <param name="product">The product; must exist.</param>
    /// <param name="quantity">The units to add: positive; the line may reach at most <see cref="CommerceOptions.MaxLineQuantity"/>.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns>
    /// The cart, or a failure that changed nothing: <see cref="CommerceErrorCode.InvalidQuantity"/>,
    /// <see cref="CommerceErrorCode.ProductNotFound"/>, <see cref="CommerceErrorCode.AmountOverflow"/> or
    /// <see cref="CommerceErrorCode.ConcurrencyConflict"/>.
    /// </returns>
    /// <exception cref="CommitOutcomeUnknownException">
    /// The store could not tell whether the change was applied (for example a database connection failed
    /// during the commit): it was applied entirely or not at all; read the state to find out which.
    /// Only stores that talk to a server raise it; the in-memory store never does.
    /// </exception>
    ValueTask<Result<CartView>> AddItemAsync(UserId user, ProductId product, int quantity, CancellationToken cancellationToken = default);

    /// <summary>Removes a product's line from a user's cart.</summary>
    /// <param name="user">The owner.</param>
    /// <param name="product">The product.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns>The cart, or <see cref="CommerceErrorCode.CartItemNotFound"/> (nothing changed) or <see cref="CommerceErrorCode.ConcurrencyConflict"/>.</returns>
    /// <exception cref="CommitOutcomeUnknownException">
    /// The store could not tell whether the change was applied (for example a database connection failed
    /// during the commit): it was applied entirely or not at all; read the state to find out which.
    /// Only stores that talk to a server raise it; the in-memory store never does.
    /// </exception>
    ValueTask<Result<CartView>> RemoveItemAsync(UserId user, ProductId product, CancellationToken cancellationToken = default);

    /// <summary>Shows a user's cart with product names, unit prices, line totals and the total.</summary>
    /// <param name="user">The owner.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The cart; an empty one (no lines, zero total) for a user who never added anything.</returns>
    ValueTask<CartView> GetCartAsync(UserId user, CancellationToken cancellationToken = default);
}
