namespace Commerce.Storage;

/// <summary>Carts inside a unit of work.</summary>
public interface ICartRepository
{
    /// <summary>Reads a cart.</summary>
    /// <param name="userId">The owner.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The cart, or <see langword="null"/> if the user never had one.</returns>
    ValueTask<Cart?> FindAsync(UserId userId, CancellationToken cancellationToken = default);

    /// <summary>Stages a cart's new state (an emptied cart is saved with no lines, never deleted).</summary>
    /// <param name="cart">The new state.</param>
    void Save(Cart cart);
}
