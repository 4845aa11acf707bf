using System.Runtime.InteropServices;
using Commerce.Events;
using Commerce.Storage;

namespace Commerce;

/// <summary>Places and reads orders, through the store's units of work.</summary>
internal sealed class OrderService(CommerceRuntime runtime) : IOrderService
{
    public async ValueTask<Result<Order>> PlaceOrderAsync(UserId user, IReadOnlyList<OrderLineRequest> lines, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(lines);
        var scope = runtime.Telemetry.Start(UseCase.PlaceOrder, user);
        var validated = Validate(lines, runtime.Options);
        if (validated.IsFailure)
        {
            scope.ThrowIfCancellationRequested(cancellationToken);
        }

        return scope.EndOrder(Logged(runtime, user, validated.IsFailure
            ? Result<Order>.Failure(validated.Error)
            : await runtime.RunAsync(
                scope,
                "PlaceOrder",
                (user, validated.Value, runtime),
                static (unitOfWork, state, ct) => PlaceAsync(unitOfWork, state, ct),
                cancellationToken).ConfigureAwait(false)));
    }

    public async ValueTask<Result<Order>> PlaceOrderAsync(UserId user, IReadOnlyList<OrderLineRequest> lines, IdempotencyKey key, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(lines);
        var scope = runtime.Telemetry.Start(UseCase.PlaceOrder, user);
        if (!key.IsValid)
        {
            scope.ThrowIfCancellationRequested(cancellationToken);
            return scope.EndOrder(Logged(runtime, user, Errors.InvalidIdempotencyKey(key)));
        }

        var validated = Validate(lines, runtime.Options);
        if (validated.IsFailure)
        {
            scope.ThrowIfCancellationRequested(cancellationToken);
        }

        var (result, replayed) = validated.IsFailure
            ? (Result<Order>.Failure(validated.Error), false)
            : await Idempotent.RunAsync(
                runtime,
                KeyedPlace,
                new Idempotent.Request(user, key, Idempotent.HashOf(validated.Value, runtime.Store)),
                (user, validated.Value, runtime),
                scope,
                cancellationToken).ConfigureAwait(false);
        // A replay placed nothing: its stored outcome was logged when it happened.
        return scope.EndOrder(replayed ? result : Logged(runtime, user, result), replayed);
    }

    /// <summary>An order placed under an idempotency key: its record keeps the order's id.</summary>
    private static readonly Idempotent.KeyedUseCase<(UserId User, IReadOnlyList<OrderLineRequest> Lines, CommerceRuntime Runtime), Order> KeyedPlace = new(
        "PlaceOrder",
        IdempotentOperation.PlaceOrder,
        static (unitOfWork, state) => Prefetch(unitOfWork, state.User, state.Lines),
        static (unitOfWork, state, ct) => PlaceAsync(unitOfWork, state, ct),
        static order => (Money.Zero, order.Id),
        ReplayAsync);

    public async ValueTask<Result<Order>> GetOrderAsync(OrderId id, CancellationToken cancellationToken = default)
    {
        var scope = runtime.Telemetry.Start(UseCase.GetOrder, id);
        return scope.End(await runtime.RunAsync(
            scope,
            "GetOrder",
            id,
            static async (unitOfWork, id, ct) =>
                await unitOfWork.Orders.FindAsync(id, ct).ConfigureAwait(false) is { } order
                    ? order
                    : Result<Order>.Failure(Errors.OrderNotFound(id)),
            cancellationToken).ConfigureAwait(false));
    }

    public async ValueTask<Result<Order>> CancelOrderAsync(OrderId id, CancellationToken cancellationToken = default)
    {
        var scope = runtime.Telemetry.Start(UseCase.CancelOrder, id);
        var result = await runtime.RunAsync(
            scope,
            "CancelOrder",
            (id, runtime),
            static (unitOfWork, state, ct) => CancelAsync(unitOfWork, state, ct),
            cancellationToken).ConfigureAwait(false);
        if (result.IsSuccess)
        {
            Log.OrderCancelled(runtime.Logger, id, result.Value.UserId, result.Value.Total);
        }
        else
        {
            Log.CancelRefused(runtime.Logger, id, result.Error.Code, result.Error.Message);
        }

        return scope.EndCancel(result);
    }

    public ValueTask<IReadOnlyList<Order>> ListOrdersAsync(UserId user, int limit = 20, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(limit, CommerceOptions.MaxListLimit);
        return runtime.ReadAsync("ListOrders", (user, limit), ListAsync, cancellationToken);
    }

    /// <summary>A stored order outcome: the refusal, or the order as it stands now (it may have been cancelled since).</summary>
    internal static async ValueTask<Result<Order>> ReplayAsync(IUnitOfWork unitOfWork, IdempotencyRecord record, CancellationToken ct)
    {
        if (record.Error is { } error)
        {
            return Result<Order>.Failure(error);
        }

        var id = record.OrderId!.Value;
        return await unitOfWork.Orders.FindAsync(id, ct).ConfigureAwait(false) is { } order ? order : Errors.OrderNotFound(id);
    }

    internal static Result<Order> Logged(CommerceRuntime runtime, UserId user, Result<Order> result)
    {
        if (result.IsSuccess)
        {
            var order = result.Value;
            Log.OrderPlaced(runtime.Logger, order.Id, user, order.LineSpan.Length, order.Total);
        }
        else
        {
            Log.OrderRefused(runtime.Logger, user, result.Error.Code, result.Error.Message);
        }

        return result;
    }

    /// <summary>
    /// Cancels an order in one commit: refunds its total (with a ledger entry), restocks every line, takes its
    /// units out of the ranking's bucket, and marks it cancelled.
    /// </summary>
    private static async ValueTask<Result<Order>> CancelAsync(IUnitOfWork unitOfWork, (OrderId Id, CommerceRuntime Runtime) state, CancellationToken ct)
    {
        var (id, runtime) = state;
        var order = await unitOfWork.Orders.FindAsync(id, ct).ConfigureAwait(false);
        if (order is null)
        {
            return Errors.OrderNotFound(id);
        }

        // The lines by index: a list's enumerator through its interface would be an object per loop. Read before the
        // cancel, which then shares their view with the order it reads.
        var lines = order.Lines;
        var now = runtime.UtcNow();
        var cancelled = order.Cancel(now);
        if (cancelled.IsFailure)
        {
            return cancelled;
        }

        unitOfWork.Prefetch(StoreKey.ForWallet(order.UserId));
        for (var i = 0; i < lines.Count; i++)
        {
            unitOfWork.Prefetch(StoreKey.ForStock(lines[i].ProductId));
        }

        await unitOfWork.LoadAsync(ct).ConfigureAwait(false);
        if (order.Total.IsPositive)
        {
            // Read as numbers, as a charge is: over a store that keeps wallets so, no Wallet is made.
            var funds = await UnitOfWork.FindWalletNumbersAsync(unitOfWork, order.UserId, ct).ConfigureAwait(false);
            if (Wallet.RefundRefusal(funds?.Balance ?? Money.Zero, order.Total, runtime.Options.MaxBalance) is { } refusal)
            {
                return Result<Order>.Failure(refusal);
            }

            UnitOfWork.Credit(unitOfWork, order.UserId, funds, order.Total, LedgerEntryKind.Refund, order.Id, now);
        }

        for (var i = 0; i < lines.Count; i++)
        {
            // Read as a number, as an order's stock is: over a store that keeps stock so, no StockItem is made.
            var line = lines[i];
            var onHand = await UnitOfWork.FindOnHandAsync(unitOfWork, line.ProductId, ct).ConfigureAwait(false)
                ?? throw new InvalidOperationException($"Order {order.Id} holds product {line.ProductId}, which has no stock.");
            if (StockItem.RestockRefusal(line.ProductId, onHand, line.Quantity) is { } refusal)
            {
                return Result<Order>.Failure(refusal);
            }

            // Relative, like the order's deduction (the guard re-checks the stock's upper bound).
            unitOfWork.Inventory.Adjust(line.ProductId, line.Quantity);
        }

        unitOfWork.Sales.Unrecord(order);
        unitOfWork.Orders.Save(cancelled.Value);
        if (runtime.Options.PublishEvents)
        {
            if (unitOfWork is UnitOfWork own)
            {
                own.PublishOrderCancelled(cancelled.Value); // the event is made from the order only if a store reads it
            }
            else
            {
                unitOfWork.Publish(new OrderCancelled(order.Id, order.UserId, lines, order.Total, now));
            }
        }

        return cancelled;
    }

    /// <summary>A user's orders, newest first: the payments of the wallet's ledger (every order has one), read backwards in pages.</summary>
    private static async ValueTask<Result<IReadOnlyList<Order>>> ListAsync(IUnitOfWork unitOfWork, (UserId User, int Limit) state, CancellationToken ct)
    {
        var (user, limit) = state;
        var sequence = (await unitOfWork.Wallets.FindAsync(user, ct).ConfigureAwait(false))?.LedgerLength ?? 0;
        var ids = new List<OrderId>(limit);
        while (sequence > 0 && ids.Count < limit)
        {
            var first = Math.Max(1, sequence - (2 * limit) + 1);
            for (var s = sequence; s >= first; s--)
            {
                unitOfWork.Prefetch(StoreKey.ForLedger(user, s));
            }

            await unitOfWork.LoadAsync(ct).ConfigureAwait(false);
            for (; sequence >= first && ids.Count < limit; sequence--)
            {
                if (await unitOfWork.Ledger.FindAsync(user, sequence, ct).ConfigureAwait(false) is { Kind: LedgerEntryKind.Payment, OrderId: { } id })
                {
                    ids.Add(id);
                }
            }

            sequence = Math.Min(sequence, first - 1);
        }

        foreach (var id in ids)
        {
            unitOfWork.Prefetch(StoreKey.ForOrder(id));
        }

        await unitOfWork.LoadAsync(ct).ConfigureAwait(false);
        var orders = new Order[ids.Count];
        for (var i = 0; i < orders.Length; i++)
        {
            orders[i] = await unitOfWork.Orders.FindAsync(ids[i], ct).ConfigureAwait(false)
                ?? throw new InvalidOperationException($"The ledger of user {user} names order {ids[i]}, which the store does not have.");
        }

        return Array.AsReadOnly(orders);
    }

    /// <summary>
    /// The checks that need no state: at least one line, positive quantities, duplicates merged (at the
    /// position of their first line), merged quantities within the limit, and not too many products.
    /// </summary>
    /// <returns>The lines to price: the request itself when it needs no merging, else a merged copy.</returns>
    internal static Result<IReadOnlyList<OrderLineRequest>> Validate(IReadOnlyList<OrderLineRequest> lines, CommerceOptions options)
    {
        if (lines.Count == 0)
        {
            return Errors.EmptyOrder();
        }

        if (lines.Count > 8 || HasDuplicates(lines))
        {
            return Merge(lines, options);
        }

        for (var i = 0; i < lines.Count; i++)
        {
            if (lines[i].Quantity <= 0)
            {
                return Errors.NonPositiveQuantity(lines[i].Quantity);
            }
        }

        for (var i = 0; i < lines.Count; i++)
        {
            if (lines[i].Quantity > options.MaxLineQuantity)
            {
                return Errors.QuantityLimitExceeded(lines[i].Quantity, options.MaxLineQuantity);
            }
        }

        return lines.Count > options.MaxOrderLines
            ? Errors.TooManyLines(lines.Count, options.MaxOrderLines)
            : Result<IReadOnlyList<OrderLineRequest>>.Success(lines);
    }

    private static bool HasDuplicates(IReadOnlyList<OrderLineRequest> lines)
    {
        for (var i = 1; i < lines.Count; i++)
        {
            for (var j = 0; j < i; j++)
            {
                if (lines[j].ProductId == lines[i].ProductId)
                {
                    return true;
                }
            }
        }

        return false;
    }

    /// <summary>Merges duplicate products into a new array (see <see cref="Validate"/>).</summary>
    private static Result<IReadOnlyList<OrderLineRequest>> Merge(IReadOnlyList<OrderLineRequest> lines, CommerceOptions options)
    {
        var merged = new OrderLineRequest[lines.Count];
        var count = 0;
        var index = new Dictionary<ProductId, int>(lines.Count);
        for (var i = 0; i < lines.Count; i++)
        {
            var line = lines[i];
            if (line.Quantity <= 0)
            {
                return Errors.NonPositiveQuantity(line.Quantity);
            }

            if (!index.TryGetValue(line.ProductId, out var at))
            {
                index.Add(line.ProductId, count);
                merged[count++] = line;
                continue;
            }

            var sum = (long)merged[at].Quantity + line.Quantity;
            if (sum > options.MaxLineQuantity)
            {
                return Errors.QuantityLimitExceeded(sum, options.MaxLineQuantity);
            }

            merged[at] = new OrderLineRequest(line.ProductId, (int)sum);
        }

        for (var i = 0; i < count; i++)
        {
            if (merged[i].Quantity > options.MaxLineQuantity)
            {
                return Errors.QuantityLimitExceeded(merged[i].Quantity, options.MaxLineQuantity);
            }
        }

        if (count > options.MaxOrderLines)
        {
            return Errors.TooManyLines(count, options.MaxOrderLines);
        }

        return count == merged.Length ? merged : merged[..count];
    }

    /// <summary>Asks for the wallet, every product and every stock item an order reads, to be read in one call.</summary>
    internal static void Prefetch(IUnitOfWork unitOfWork, UserId user, IReadOnlyList<OrderLineRequest> lines)
    {
        unitOfWork.Prefetch(StoreKey.ForWallet(user));
        for (var i = 0; i < lines.Count; i++)
        {
            PrefetchLine(unitOfWork, lines[i].ProductId);
        }
    }

    /// <summary>Asks for what an order's line reads: its product and the product's stock.</summary>
    private static void PrefetchLine(IUnitOfWork unitOfWork, ProductId productId)
    {
        unitOfWork.Prefetch(StoreKey.ForProduct(productId));
        unitOfWork.Prefetch(StoreKey.ForStock(productId));
    }

    /// <summary>The exception of an order whose lines changed after they were validated (see <see cref="PlaceAsync"/>).</summary>
    private static InvalidOperationException LinesChanged() => new(
        "The order's lines changed while the order was placed: the list is read more than once, and must not change until the call returns. Nothing was changed.");

    /// <summary>Whether a line before <paramref name="index"/> names the product of the line at it (looked at only once something failed).</summary>
    private static bool IsNamedBefore(OrderLine[] lines, int index)
    {
        for (var i = 0; i < index; i++)
        {
            if (lines[i].ProductId == lines[index].ProductId)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// The use case, top to bottom: read everything at once, price, check the balance, check the stock,
    /// then debit, deduct, create the order and record the sale. Each value is read once and the total
    /// computed once; a refusal returns before anything is staged.
    /// </summary>
    /// <remarks>
    /// The caller's lines are read here once, into the order's lines, and everything the use case reads is asked for
    /// from those: once the unit of work has loaded them, each read is at hand, and <see cref="Place"/> runs through
    /// without awaiting. A store that loads without waiting (the in-memory one) places the order without an async
    /// state machine.
    /// </remarks>
    internal static ValueTask<Result<Order>> PlaceAsync(
        IUnitOfWork unitOfWork,
        (UserId User, IReadOnlyList<OrderLineRequest> Lines, CommerceRuntime Runtime) state,
        CancellationToken ct)
    {
        var (user, lines, runtime) = state;

        // The lines are the caller's list when they needed no merging: each is read here once, and checked again
        // against what Validate checked, since a list that changed meanwhile was not validated.
        var options = runtime.Options;
        var priced = new OrderLine[lines.Count];
        if (priced.Length == 0 || priced.Length > options.MaxOrderLines)
        {
            throw LinesChanged();
        }

        unitOfWork.Prefetch(StoreKey.ForWallet(user));
        for (var i = 0; i < priced.Length; i++)
        {
            var (productId, quantity) = lines[i];
            if (quantity <= 0 || quantity > options.MaxLineQuantity)
            {
                throw LinesChanged();
            }

            priced[i] = new OrderLine(productId, quantity, Money.Zero, Money.Zero); // priced once the product is read
            PrefetchLine(unitOfWork, productId);
        }

        var loading = unitOfWork.LoadAsync(ct);
        return loading.IsCompletedSuccessfully
            ? new(Place(unitOfWork, user, priced, runtime, ct))
            : PlaceWhenLoadedAsync(loading, unitOfWork, user, priced, runtime, ct);

        static async ValueTask<Result<Order>> PlaceWhenLoadedAsync(
            ValueTask loading, IUnitOfWork unitOfWork, UserId user, OrderLine[] priced, CommerceRuntime runtime, CancellationToken ct)
        {
            await loading.ConfigureAwait(false);
            return Place(unitOfWork, user, priced, runtime, ct);
        }
    }

    /// <summary>
    /// A read of a key the use case asked for and the unit of work loaded, which it has at hand: complete when made
    /// (its exception, if it failed, thrown here).
    /// </summary>
    private static T Loaded<T>(ValueTask<T> read) =>
        read.IsCompleted
            ? read.GetAwaiter().GetResult()
            : throw new InvalidOperationException("A read of a key that was loaded did not complete at once: the unit of work did not keep what it loaded.");

    /// <summary>
    /// The use case once its reads are loaded (see <see cref="PlaceAsync"/>): <paramref name="priced"/> holds the
    /// caller's lines, unpriced, and is priced in place to become the order's lines.
    /// </summary>
    private static Result<Order> Place(IUnitOfWork unitOfWork, UserId user, OrderLine[] priced, CommerceRuntime runtime, CancellationToken ct)
    {
        // Price every line from the catalog; report every unknown product at once (before any overflow).
        var total = Money.Zero;
        List<ProductId>? unknown = null;
        var overflow = false;
        for (var i = 0; i < priced.Length; i++)
        {
            var (productId, quantity) = (priced[i].ProductId, priced[i].Quantity);
            var product = Loaded(unitOfWork.Products.FindAsync(productId, ct));
            if (product is null)
            {
                (unknown ??= []).Add(productId);
            }
            else if (!overflow && product.Price.TryMultiply(quantity, out var lineTotal) && total.TryAdd(lineTotal, out total))
            {
                priced[i] = new OrderLine(productId, quantity, product.Price, lineTotal);
            }
            else
            {
                overflow = true;
            }
        }

        if (unknown is not null)
        {
            return Errors.ProductNotFound(unknown);
        }

        if (overflow)
        {
            return Errors.AmountOverflow();
        }

        // Balance first: when both balance and stock are short, the answer is insufficient balance.
        // Read as numbers: over a store that keeps wallets so, no Wallet is made for the read or the payment.
        var funds = Loaded(UnitOfWork.FindWalletNumbersAsync(unitOfWork, user, ct));
        var balance = funds?.Balance ?? Money.Zero;
        if (total > balance)
        {
            return Errors.InsufficientBalance(balance, total);
        }

        // Then stock for every line; the error names every short product. Deductions are staged as they
        // are checked: if one line is short, the refusal drops them (a refused use case commits its reads only).
        List<ProductId>? shortOf = null;
        var publish = runtime.Options.PublishEvents;
        List<ProductId>? depleted = null;
        for (var i = 0; i < priced.Length; i++)
        {
            int? onHand;
            try
            {
                // The quantity alone: read as a number, a stock item is made for no one (see StoredState.OfQuantity).
                onHand = Loaded(UnitOfWork.FindOnHandAsync(unitOfWork, priced[i].ProductId, ct));
            }
            catch (InvalidOperationException) when (IsNamedBefore(priced, i))
            {
                // An earlier line adjusted this stock, which the unit of work then refuses to read: the list changed
                // into two lines for one product after it was validated (merged, they are one).
                throw LinesChanged();
            }

            if (onHand is null || onHand < priced[i].Quantity)
            {
                if (depleted is not null && depleted.Contains(priced[i].ProductId))
                {
                    // An earlier line took this stock's last units (the stock read is the one it staged): the same change.
                    throw LinesChanged();
                }

                (shortOf ??= []).Add(priced[i].ProductId);
            }
            else if (shortOf is null)
            {
                if (publish && onHand == priced[i].Quantity)
                {
                    // The order takes the last units: a checked write, so that the commit applies only if
                    // the stock is still exactly this, and the depletion it reports is true.
                    unitOfWork.Inventory.Save(new StockItem(priced[i].ProductId, 0));
                    (depleted ??= []).Add(priced[i].ProductId);
                }
                else
                {
                    // A guarded relative change: orders for one product do not conflict, and the commit
                    // fails (the use case runs again and refuses) if the stock ran short meanwhile. With
                    // events, it must also leave a unit, else the depletion would go unreported.
                    unitOfWork.Inventory.Adjust(priced[i].ProductId, -priced[i].Quantity, publish ? 1 : 0);
                }
            }
        }

        if (shortOf is not null)
        {
            return Errors.InsufficientStock(shortOf);
        }

        // Pay (with the ledger's entry), create the order and record the sale; the commit applies all or nothing.
        var now = runtime.UtcNow();
        // An id carries milliseconds since 1970, which cannot be negative: a clock before then stamps the order, not its id.
        var order = new Order(OrderId.New(now < DateTimeOffset.UnixEpoch ? DateTimeOffset.UnixEpoch : now), user, ImmutableCollectionsMarshal.AsImmutableArray(priced), total, now);
        UnitOfWork.Pay(unitOfWork, funds, order); // the payment as the order itself if the store keeps payments so

        unitOfWork.Orders.Add(order);
        unitOfWork.Sales.Record(order);
        if (publish)
        {
            if (unitOfWork is UnitOfWork own)
            {
                own.PublishOrderPlaced(order); // the event is made from the order only if a store reads it
            }
            else
            {
                unitOfWork.Publish(new OrderPlaced(order.Id, user, order.Lines, total, now));
            }
            if (depleted is not null)
            {
                foreach (var productId in depleted)
                {
                    unitOfWork.Publish(new StockDepleted(productId, order.Id, now));
                }
            }
        }

        return order;
    }
}
