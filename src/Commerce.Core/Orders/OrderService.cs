using System.Runtime.InteropServices;
using Commerce.Storage;

namespace Commerce;

/// <summary>Places and reads orders, through the store's units of work.</summary>
internal sealed class OrderService(CommerceRuntime runtime) : IOrderService
{
    public async ValueTask<Result<Order>> PlaceOrderAsync(UserId user, IReadOnlyList<OrderLineRequest> lines, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(lines);
        var validated = Validate(lines, runtime.Options);
        var result = validated.IsFailure
            ? Result<Order>.Failure(validated.Error)
            : await runtime.RunAsync("PlaceOrder", (user, validated.Value, runtime), PlaceAsync, cancellationToken).ConfigureAwait(false);

        if (result.IsSuccess)
        {
            var order = result.Value;
            Log.OrderPlaced(runtime.Logger, order.Id, user, order.Lines.Count, order.Total);
        }
        else
        {
            Log.OrderRefused(runtime.Logger, user, result.Error.Code, result.Error.Message);
        }

        return result;
    }

    public ValueTask<Result<Order>> GetOrderAsync(OrderId id, CancellationToken cancellationToken = default) =>
        runtime.RunAsync(
            "GetOrder",
            id,
            static async (unitOfWork, id, ct) =>
                await unitOfWork.Orders.FindAsync(id, ct).ConfigureAwait(false) is { } order
                    ? order
                    : Result<Order>.Failure(Errors.OrderNotFound(id)),
            cancellationToken);

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

    /// <summary>
    /// The use case, top to bottom: read everything at once, price, check the balance, check the stock,
    /// then debit, deduct, create the order and record the sale. Each value is read once and the total
    /// computed once; a refusal returns before anything is staged.
    /// </summary>
    private static async ValueTask<Result<Order>> PlaceAsync(
        IUnitOfWork unitOfWork,
        (UserId User, IReadOnlyList<OrderLineRequest> Lines, CommerceRuntime Runtime) state,
        CancellationToken ct)
    {
        var (user, lines, runtime) = state;

        // One read of the wallet, every product and every stock item.
        unitOfWork.Prefetch(StoreKey.ForWallet(user));
        for (var i = 0; i < lines.Count; i++)
        {
            unitOfWork.Prefetch(StoreKey.ForProduct(lines[i].ProductId));
            unitOfWork.Prefetch(StoreKey.ForStock(lines[i].ProductId));
        }

        await unitOfWork.LoadAsync(ct).ConfigureAwait(false);

        // Price every line from the catalog; report every unknown product at once (before any overflow).
        var priced = new OrderLine[lines.Count];
        var total = Money.Zero;
        List<ProductId>? unknown = null;
        var overflow = false;
        for (var i = 0; i < priced.Length; i++)
        {
            var (productId, quantity) = lines[i];
            var product = await unitOfWork.Products.FindAsync(productId, ct).ConfigureAwait(false);
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
        var wallet = await unitOfWork.Wallets.FindAsync(user, ct).ConfigureAwait(false) ?? Wallet.Empty(user);
        var paid = wallet.Debit(total);
        if (paid.IsFailure)
        {
            return Result<Order>.Failure(paid.Error);
        }

        // Then stock for every line; the error names every short product. Deductions are staged as they
        // are checked: if one line is short, the refusal drops them (a refused use case commits its reads only).
        List<ProductId>? shortOf = null;
        for (var i = 0; i < priced.Length; i++)
        {
            var stock = await unitOfWork.Inventory.FindAsync(priced[i].ProductId, ct).ConfigureAwait(false);
            if (stock is null || stock.OnHand < priced[i].Quantity)
            {
                (shortOf ??= []).Add(priced[i].ProductId);
            }
            else if (shortOf is null)
            {
                unitOfWork.Inventory.Save(stock.Deduct(priced[i].Quantity).Value);
            }
        }

        if (shortOf is not null)
        {
            return Errors.InsufficientStock(shortOf);
        }

        // Pay, create the order and record the sale; the commit applies all or nothing.
        unitOfWork.Wallets.Save(paid.Value);
        var now = runtime.Time.GetUtcNow();
        var order = new Order(OrderId.New(now), user, ImmutableCollectionsMarshal.AsImmutableArray(priced), total, now);
        unitOfWork.Orders.Add(order);
        unitOfWork.Sales.Record(order);
        return order;
    }
}
