namespace Commerce;

/// <summary>Places, cancels and lists orders, paying from the buyer's wallet and deducting stock in one atomic step.</summary>
/// <remarks>Thread-safe: concurrent orders never oversell stock or overspend a wallet.</remarks>
public interface IOrderService
{
    /// <summary>
    /// Places an order: validates the lines, prices them from the catalog, checks the balance, then the
    /// stock, then atomically debits the wallet, deducts the stock, stores the order and counts the sale.
    /// </summary>
    /// <param name="user">The buyer.</param>
    /// <param name="lines">
    /// The lines. Two lines for the same product are merged into one line with the summed quantity, at the
    /// position of the first.
    /// </param>
    /// <param name="cancellationToken">Cancels the operation; a cancelled order is either fully placed or not at all.</param>
    /// <returns>
    /// The order, or a failure that changed nothing, checked in this order:
    /// <see cref="CommerceErrorCode.EmptyOrder"/>, <see cref="CommerceErrorCode.InvalidQuantity"/>,
    /// <see cref="CommerceErrorCode.TooManyLines"/>, <see cref="CommerceErrorCode.ProductNotFound"/> (naming every unknown product),
    /// <see cref="CommerceErrorCode.AmountOverflow"/>, <see cref="CommerceErrorCode.InsufficientBalance"/> (which wins when stock is short too),
    /// <see cref="CommerceErrorCode.InsufficientStock"/> (naming every short product), <see cref="CommerceErrorCode.ConcurrencyConflict"/>; or <see cref="CommerceErrorCode.StoreUnavailable"/>.
    /// </returns>
    /// <exception cref="ArgumentNullException"><paramref name="lines"/> is <see langword="null"/>.</exception>
    /// <exception cref="InvalidOperationException">
    /// <paramref name="lines"/> changed during the call (the list is read more than once, and must not change
    /// until the call returns) into lines validation refuses (none, too many, a quantity out of range, one product
    /// twice); nothing was changed. A list changed into lines validation accepts is not detected: the order is
    /// placed for the lines as read.
    /// </exception>
    /// <exception cref="CommitOutcomeUnknownException">
    /// The store could not tell whether the change was applied (for example a database connection failed
    /// during the commit): it was applied entirely or not at all; read the state to find out which.
    /// Only stores that talk to a server raise it; the in-memory store never does.
    /// </exception>
    /// <exception cref="ObjectDisposedException">
    /// The store was disposed (with the service provider that created it). A request its arguments alone refuse
    /// (no lines, a quantity out of range, too many products) needs no store and gets that refusal, disposed or not.
    /// </exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled before the call completed (a use case cancelled before its commit applies nothing).</exception>
    ValueTask<Result<Order>> PlaceOrderAsync(UserId user, IReadOnlyList<OrderLineRequest> lines, CancellationToken cancellationToken = default);

    /// <summary>
    /// Places an order once per <paramref name="key"/>: the first call runs and stores its outcome (the order,
    /// or the refusal) in the same commit; a repeat with the same key and the same lines (after merging, in the same order)
    /// within <see cref="CommerceOptions.IdempotencyRetention"/> returns that outcome (the order as it stands
    /// now) and changes nothing. Concurrent calls with one key place at most one order.
    /// </summary>
    /// <param name="user">The buyer.</param>
    /// <param name="lines">The lines, merged as by <see cref="PlaceOrderAsync(UserId, IReadOnlyList{OrderLineRequest}, CancellationToken)"/>.</param>
    /// <param name="key">The client's key for this request (scoped to the user and to orders).</param>
    /// <param name="cancellationToken">Cancels the operation; a cancelled order is either fully placed (with its key) or not at all.</param>
    /// <returns>
    /// As the overload without a key; or first <see cref="CommerceErrorCode.InvalidIdempotencyKey"/>; or
    /// <see cref="CommerceErrorCode.IdempotencyKeyReused"/> (the key was used for different lines), changing nothing.
    /// Refusals found without reading state (empty order, bad quantities, too many lines) are not stored: they
    /// do not depend on state, so a repeat gets the same answer. <see cref="CommerceErrorCode.ConcurrencyConflict"/> and <see cref="CommerceErrorCode.StoreUnavailable"/> are not stored.
    /// </returns>
    /// <exception cref="ArgumentNullException"><paramref name="lines"/> is <see langword="null"/>.</exception>
    /// <exception cref="InvalidOperationException">
    /// <paramref name="lines"/> changed during the call (the list is read more than once, and must not change
    /// until the call returns) into lines validation refuses (none, too many, a quantity out of range, one product
    /// twice); nothing was changed. A list changed into lines validation accepts is not detected: the order is
    /// placed for the lines as read.
    /// </exception>
    /// <exception cref="CommitOutcomeUnknownException">
    /// The store could not tell whether the order was placed; call again with the same key to learn the outcome.
    /// </exception>
    /// <exception cref="ObjectDisposedException">
    /// The store was disposed (with the service provider that created it). A request its arguments alone refuse
    /// (an invalid key, no lines, a quantity out of range, too many products) needs no store and gets that refusal, disposed or not.
    /// </exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled before the call completed (a use case cancelled before its commit applies nothing).</exception>
    ValueTask<Result<Order>> PlaceOrderAsync(UserId user, IReadOnlyList<OrderLineRequest> lines, IdempotencyKey key, CancellationToken cancellationToken = default);

    /// <summary>
    /// Cancels an order in one commit: refunds its total to the buyer's wallet (a ledger entry of kind
    /// <see cref="LedgerEntryKind.Refund"/>; an order whose total is zero refunds nothing and adds no entry),
    /// restocks every line, takes its units out of the ranking, and marks it <see cref="OrderStatus.Cancelled"/>;
    /// it keeps its lines.
    /// </summary>
    /// <remarks>
    /// The order is named by its id alone, and whoever calls cancels it: a host that lets its customers cancel
    /// checks first that the order is theirs (its <see cref="Order.UserId"/>, from <see cref="GetOrderAsync"/>).
    /// </remarks>
    /// <param name="id">The order.</param>
    /// <param name="cancellationToken">Cancels the operation; a cancelled cancel is applied entirely or not at all.</param>
    /// <returns>
    /// The cancelled order, or a failure that changed nothing: <see cref="CommerceErrorCode.OrderNotFound"/>,
    /// <see cref="CommerceErrorCode.OrderAlreadyCancelled"/>, <see cref="CommerceErrorCode.BalanceLimitExceeded"/>
    /// (the refund would take the wallet above the maximum balance), <see cref="CommerceErrorCode.InvalidQuantity"/>
    /// (a restock would overflow), <see cref="CommerceErrorCode.ConcurrencyConflict"/> or <see cref="CommerceErrorCode.StoreUnavailable"/>.
    /// </returns>
    /// <exception cref="CommitOutcomeUnknownException">
    /// The store could not tell whether the cancel was applied; read the order to find out.
    /// </exception>
    /// <exception cref="ObjectDisposedException">The store was disposed (with the service provider that created it).</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled before the call completed (a use case cancelled before its commit applies nothing).</exception>
    ValueTask<Result<Order>> CancelOrderAsync(OrderId id, CancellationToken cancellationToken = default);

    /// <summary>Lists a user's orders, newest first (cancelled ones included).</summary>
    /// <param name="user">The buyer.</param>
    /// <param name="limit">The most orders: 1 to 1,000.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>Up to <paramref name="limit"/> orders, read as one consistent snapshot.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="limit"/> is outside 1 to 1,000.</exception>
    /// <exception cref="StoreUnavailableException">The store refused the last of the attempts the retry budget allows (see <see cref="CommerceOptions.MaxCommitAttempts"/>).</exception>
    /// <exception cref="InvalidOperationException">Every attempt the retry budget allows met a concurrent commit that changed what it read.</exception>
    /// <exception cref="ObjectDisposedException">The store was disposed (with the service provider that created it).</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled before the call completed.</exception>
    ValueTask<IReadOnlyList<Order>> ListOrdersAsync(UserId user, int limit = 20, CancellationToken cancellationToken = default);

    /// <summary>Reads a placed order.</summary>
    /// <param name="id">The order id.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>
    /// The order, or <see cref="CommerceErrorCode.OrderNotFound"/>; <see cref="CommerceErrorCode.ConcurrencyConflict"/> or
    /// <see cref="CommerceErrorCode.StoreUnavailable"/> when the retry budget (<see cref="CommerceOptions.MaxCommitAttempts"/>) runs out.
    /// </returns>
    /// <exception cref="ObjectDisposedException">The store was disposed (with the service provider that created it).</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled before the call completed.</exception>
    ValueTask<Result<Order>> GetOrderAsync(OrderId id, CancellationToken cancellationToken = default);
}
