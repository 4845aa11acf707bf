namespace Commerce.Storage;

/// <summary>Placed orders inside a unit of work.</summary>
public interface IOrderRepository
{
    /// <summary>Reads an order.</summary>
    /// <param name="orderId">The order id.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The order, or <see langword="null"/> if there is none with that id.</returns>
    ValueTask<Order?> FindAsync(OrderId orderId, CancellationToken cancellationToken = default);

    /// <summary>Stages a new order; the commit fails if the id exists by then.</summary>
    /// <param name="order">The order.</param>
    void Add(Order order);

    /// <summary>Stages an order's new state (a cancellation); the order must have been read in this unit of work.</summary>
    /// <param name="order">The new state.</param>
    void Save(Order order);
}
