namespace Commerce;

/// <summary>Adds to, removes from, shows and checks out users' carts.</summary>
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
    /// <see cref="CommerceErrorCode.ProductNotFound"/>, <see cref="CommerceErrorCode.TooManyLines"/> (the product is
    /// not in the cart, which holds <see cref="CommerceOptions.MaxOrderLines"/> products already), <see cref="CommerceErrorCode.AmountOverflow"/>,
    /// <see cref="CommerceErrorCode.ConcurrencyConflict"/> or <see cref="CommerceErrorCode.StoreUnavailable"/>.
    /// </returns>
    /// <exception cref="CommitOutcomeUnknownException">
    /// The store could not tell whether the change was applied (for example a database connection failed
    /// during the commit): it was applied entirely or not at all; read the state to find out which.
    /// Only stores that talk to a server raise it; the in-memory store never does.
    /// </exception>
    /// <exception cref="ObjectDisposedException">
    /// The store was disposed (with the service provider that created it). A request its arguments alone refuse
    /// (a quantity that is not positive) needs no store and gets that refusal, disposed or not.
    /// </exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled before the call completed (a use case cancelled before its commit applies nothing).</exception>
    ValueTask<Result<CartView>> AddItemAsync(UserId user, ProductId product, int quantity, CancellationToken cancellationToken = default);

    /// <summary>Removes a product's line from a user's cart.</summary>
    /// <param name="user">The owner.</param>
    /// <param name="product">The product.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns>The cart, or <see cref="CommerceErrorCode.CartItemNotFound"/> (nothing changed), <see cref="CommerceErrorCode.ConcurrencyConflict"/> or <see cref="CommerceErrorCode.StoreUnavailable"/>.</returns>
    /// <exception cref="CommitOutcomeUnknownException">
    /// The store could not tell whether the change was applied (for example a database connection failed
    /// during the commit): it was applied entirely or not at all; read the state to find out which.
    /// Only stores that talk to a server raise it; the in-memory store never does.
    /// </exception>
    /// <exception cref="ObjectDisposedException">The store was disposed (with the service provider that created it).</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled before the call completed (a use case cancelled before its commit applies nothing).</exception>
    ValueTask<Result<CartView>> RemoveItemAsync(UserId user, ProductId product, CancellationToken cancellationToken = default);

    /// <summary>
    /// Places an order from the cart's lines and empties the cart, in one commit: the same validation,
    /// pricing, balance then stock checks as <see cref="IOrderService.PlaceOrderAsync(UserId, IReadOnlyList{OrderLineRequest}, CancellationToken)"/>.
    /// </summary>
    /// <param name="user">The owner of the cart and the buyer.</param>
    /// <param name="cancellationToken">Cancels the operation; a cancelled checkout is applied entirely or not at all.</param>
    /// <returns>
    /// The order, or a failure that left the cart (and everything else) as it was: <see cref="CommerceErrorCode.EmptyOrder"/>
    /// for an empty or absent cart, or any failure of placing an order.
    /// </returns>
    /// <exception cref="CommitOutcomeUnknownException">
    /// The store could not tell whether the checkout was applied; read the cart or the user's orders to find out.
    /// </exception>
    /// <exception cref="ObjectDisposedException">The store was disposed (with the service provider that created it).</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled before the call completed (a use case cancelled before its commit applies nothing).</exception>
    ValueTask<Result<Order>> CheckoutAsync(UserId user, CancellationToken cancellationToken = default);

    /// <summary>
    /// Checks the cart out once per <paramref name="key"/>: a repeat with the same key within
    /// <see cref="CommerceOptions.IdempotencyRetention"/> returns the first call's outcome (the order as it stands
    /// now, or the refusal) and changes nothing, whatever the cart holds by then. Every refusal of the checkout is
    /// stored, <see cref="CommerceErrorCode.EmptyOrder"/> included (the cart is state, judged when the key is first used);
    /// <see cref="CommerceErrorCode.ConcurrencyConflict"/> and <see cref="CommerceErrorCode.StoreUnavailable"/> are not.
    /// </summary>
    /// <param name="user">The owner of the cart and the buyer.</param>
    /// <param name="key">The client's key for this request (scoped to the user and to checkouts).</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns>As the overload without a key, or <see cref="CommerceErrorCode.InvalidIdempotencyKey"/> (nothing changed).</returns>
    /// <exception cref="CommitOutcomeUnknownException">
    /// The store could not tell whether the checkout was applied; call again with the same key to learn the outcome.
    /// </exception>
    /// <exception cref="ObjectDisposedException">
    /// The store was disposed (with the service provider that created it). A request its arguments alone refuse
    /// (an invalid key) needs no store and gets that refusal, disposed or not.
    /// </exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled before the call completed (a use case cancelled before its commit applies nothing).</exception>
    ValueTask<Result<Order>> CheckoutAsync(UserId user, IdempotencyKey key, CancellationToken cancellationToken = default);

    /// <summary>Shows a user's cart with product names, unit prices, line totals and the total.</summary>
    /// <param name="user">The owner.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The cart; an empty one (no lines, zero total) for a user who never added anything.</returns>
    /// <exception cref="StoreUnavailableException">The store refused the last of the attempts the retry budget allows (see <see cref="CommerceOptions.MaxCommitAttempts"/>).</exception>
    /// <exception cref="InvalidOperationException">Every attempt the retry budget allows met a concurrent commit that changed what it read.</exception>
    /// <exception cref="ObjectDisposedException">The store was disposed (with the service provider that created it).</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled before the call completed.</exception>
    ValueTask<CartView> GetCartAsync(UserId user, CancellationToken cancellationToken = default);
}
