namespace Commerce;

/// <summary>Places orders, paying from the buyer's wallet and deducting stock in one atomic step.</summary>
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
    /// <see cref="CommerceErrorCode.InsufficientStock"/> (naming every short product), <see cref="CommerceErrorCode.ConcurrencyConflict"/>.
    /// </returns>
    /// <exception cref="ArgumentNullException"><paramref name="lines"/> is <see langword="null"/>.</exception>
    /// <exception cref="CommitOutcomeUnknownException">
    /// The store could not tell whether the change was applied (for example a database connection failed
    /// during the commit): it was applied entirely or not at all; read the state to find out which.
    /// Only stores that talk to a server raise it; the in-memory store never does.
    /// </exception>
    ValueTask<Result<Order>> PlaceOrderAsync(UserId user, IReadOnlyList<OrderLineRequest> lines, CancellationToken cancellationToken = default);

    /// <summary>Reads a placed order.</summary>
    /// <param name="id">The order id.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The order, or <see cref="CommerceErrorCode.OrderNotFound"/>.</returns>
    ValueTask<Result<Order>> GetOrderAsync(OrderId id, CancellationToken cancellationToken = default);
}
