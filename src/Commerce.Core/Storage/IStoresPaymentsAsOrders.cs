namespace Commerce.Storage;

/// <summary>
/// Implemented by a store (<see cref="ICommerceStore"/>) that keeps an order's payment in its wallet's
/// ledger as the order itself, and makes the <see cref="LedgerEntry"/> again when it is read. For such a
/// store, the library stages the payment of an order it places as a <see cref="StoreTable.Ledger"/> insert
/// whose <see cref="Change.State"/> is that <see cref="Order"/> (inserted by the same change set), not as a
/// <see cref="LedgerEntry"/>: placing an order then allocates no entry that the store would drop.
/// </summary>
/// <remarks>
/// The entry such a change stands for is numbered <see cref="StoreKey.Low"/> of its key, belongs to the
/// order's <see cref="Order.UserId"/>, is a <see cref="LedgerEntryKind.Payment"/> of the order's
/// <see cref="Order.Total"/> for its <see cref="Order.Id"/> at its <see cref="Order.PlacedAt"/>, and its balance
/// after is the balance of the wallet the same change set writes. A store that does not implement this
/// interface is given entries only.
/// </remarks>
public interface IStoresPaymentsAsOrders;
