namespace Commerce.Storage;

/// <summary>The kinds of state a store keeps, one per aggregate.</summary>
public enum StoreTable : byte
{
    /// <summary>Wallets (<see cref="Wallet"/>), keyed by user.</summary>
    Wallets = 1,

    /// <summary>Products (<see cref="Product"/>), keyed by product. Write-once: a product, once added, never changes.</summary>
    Products = 2,

    /// <summary>Stock on hand (<see cref="StockItem"/>), keyed by product.</summary>
    Stock = 3,

    /// <summary>Carts (<see cref="Cart"/>), keyed by user.</summary>
    Carts = 4,

    /// <summary>Placed orders (<see cref="Order"/>), keyed by order id. Write-once.</summary>
    Orders = 5,

    /// <summary>
    /// Units sold per ranking bucket and product: a number, only ever changed by
    /// <see cref="ChangeKind.Adjust"/> and read through <see cref="IStoreSession.ReadTopSalesAsync"/>.
    /// </summary>
    Sales = 6,

    /// <summary>Wallet ledger entries (<see cref="LedgerEntry"/>), keyed by user (<see cref="StoreKey.High"/>) and sequence (<see cref="StoreKey.Low"/>). Write-once.</summary>
    Ledger = 7,

    /// <summary>
    /// Outcomes of requests made with an idempotency key (<see cref="IdempotencyRecord"/>), keyed by user
    /// (<see cref="StoreKey.High"/>) and a 64-bit digest of the operation and key (<see cref="StoreKey.Low"/>).
    /// Expired records are purged (<see cref="IStoreSession.PurgeIdempotencyAsync"/>).
    /// </summary>
    Idempotency = 8,
}

/// <summary>
/// The key of one piece of state in a store: its table and two 64-bit words. User and product ids
/// take <see cref="Low"/> (with <see cref="High"/> zero); an order id takes both words; a sales key holds
/// the ranking bucket in <see cref="High"/> and the product in <see cref="Low"/>.
/// </summary>
/// <param name="Table">The table.</param>
/// <param name="High">The first word.</param>
/// <param name="Low">The second word.</param>
public readonly record struct StoreKey(StoreTable Table, long High, long Low) : IComparable<StoreKey>
{
    /// <summary>Whether the table's states, once written, are never replaced (products and ledger entries).</summary>
    public bool IsWriteOnce => Table is StoreTable.Products or StoreTable.Ledger;

    /// <summary>The key of a user's wallet.</summary>
    /// <param name="userId">The user.</param>
    /// <returns>The key.</returns>
    public static StoreKey ForWallet(UserId userId) => new(StoreTable.Wallets, 0, userId.Value);

    /// <summary>The key of a product.</summary>
    /// <param name="productId">The product.</param>
    /// <returns>The key.</returns>
    public static StoreKey ForProduct(ProductId productId) => new(StoreTable.Products, 0, productId.Value);

    /// <summary>The key of a product's stock.</summary>
    /// <param name="productId">The product.</param>
    /// <returns>The key.</returns>
    public static StoreKey ForStock(ProductId productId) => new(StoreTable.Stock, 0, productId.Value);

    /// <summary>The key of a user's cart.</summary>
    /// <param name="userId">The user.</param>
    /// <returns>The key.</returns>
    public static StoreKey ForCart(UserId userId) => new(StoreTable.Carts, 0, userId.Value);

    /// <summary>The key of an order: the GUID's 16 bytes as two words.</summary>
    /// <param name="orderId">The order.</param>
    /// <returns>The key.</returns>
    public static StoreKey ForOrder(OrderId orderId)
    {
        Span<byte> bytes = stackalloc byte[16];
        orderId.Value.TryWriteBytes(bytes);
        return new(StoreTable.Orders, BitConverter.ToInt64(bytes), BitConverter.ToInt64(bytes[8..]));
    }

    /// <summary>The key of the units of a product sold in one ranking bucket.</summary>
    /// <param name="bucket">The bucket number: whole ranking resolutions since the Unix epoch (negative before it).</param>
    /// <param name="productId">The product.</param>
    /// <returns>The key.</returns>
    public static StoreKey ForSales(long bucket, ProductId productId) => new(StoreTable.Sales, bucket, productId.Value);

    /// <summary>The key of one entry of a user's ledger.</summary>
    /// <param name="userId">The user.</param>
    /// <param name="sequence">The entry's number, from 1.</param>
    /// <returns>The key.</returns>
    public static StoreKey ForLedger(UserId userId, long sequence) => new(StoreTable.Ledger, userId.Value, sequence);

    /// <summary>
    /// The key of the outcome of a request a user made with an idempotency key: the user, and the first
    /// 64 bits of the SHA-256 digest of the operation and the key (the record keeps the key itself, so a
    /// digest collision is recognised and never returns another request's outcome). A store that digests
    /// keys itself (<see cref="IIdempotencyDigest"/>) finds its records at the key of
    /// <see cref="ForIdempotency(UserId, IdempotentOperation, string, IIdempotencyDigest?)"/>.
    /// </summary>
    /// <param name="userId">The user.</param>
    /// <param name="operation">The kind of operation.</param>
    /// <param name="key">The key's text.</param>
    /// <returns>The key.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="key"/> is <see langword="null"/>.</exception>
    public static StoreKey ForIdempotency(UserId userId, IdempotentOperation operation, string key) =>
        ForIdempotency(userId, operation, key, null);

    /// <summary>The key of the outcome of a request a user made with an idempotency key, digested by <paramref name="digest"/>.</summary>
    /// <param name="userId">The user.</param>
    /// <param name="operation">The kind of operation.</param>
    /// <param name="key">The key's text.</param>
    /// <param name="digest">The store's digest, or <see langword="null"/> for the first 64 bits of SHA-256.</param>
    /// <returns>The key: the user, and the digest of the operation's code followed by the key's UTF-8 text.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="key"/> is <see langword="null"/>.</exception>
    public static StoreKey ForIdempotency(UserId userId, IdempotentOperation operation, string key, IIdempotencyDigest? digest)
    {
        ArgumentNullException.ThrowIfNull(key);
        // At most three bytes a character (a surrogate pair takes four for two); sized to the key, so that a
        // short key's buffer is not a whole maximal one to clear.
        var text = key.AsSpan(0, Math.Min(key.Length, IdempotencyKey.MaxLength));
        Span<byte> input = stackalloc byte[1 + (text.Length * 3)];
        input[0] = (byte)operation;
        var length = 1 + System.Text.Encoding.UTF8.GetBytes(text, input[1..]);
        return new(StoreTable.Idempotency, userId.Value, Digests.Of(input[..length], digest));
    }

    /// <summary>The user id of a wallet or cart key.</summary>
    public UserId UserId => new(Table is StoreTable.Ledger or StoreTable.Idempotency ? High : Low);

    /// <summary>The product id of a product, stock or sales key.</summary>
    public ProductId ProductId => new(Low);

    /// <summary>The order id of an order key.</summary>
    public OrderId OrderId
    {
        get
        {
            Span<byte> bytes = stackalloc byte[16];
            BitConverter.TryWriteBytes(bytes, High);
            BitConverter.TryWriteBytes(bytes[8..], Low);
            return new OrderId(new Guid(bytes));
        }
    }

    /// <summary>Orders keys by table, then by <see cref="High"/>, then by <see cref="Low"/>: one global order for row locks.</summary>
    /// <param name="other">The other key.</param>
    /// <returns>Negative, zero or positive.</returns>
    public int CompareTo(StoreKey other)
    {
        var byTable = ((byte)Table).CompareTo((byte)other.Table);
        if (byTable != 0)
        {
            return byTable;
        }

        var byHigh = High.CompareTo(other.High);
        return byHigh != 0 ? byHigh : Low.CompareTo(other.Low);
    }
}
