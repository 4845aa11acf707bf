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
            : await runtime.RunAsync("PlaceOrder", (user, lines: validated.Value, runtime), PlaceAsync, cancellationToken).ConfigureAwait(false);

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
    /// <returns>
    /// The lines to price, with a zero unit price. Each attempt of the use case prices them in place, and
    /// the order it places keeps the array: one allocation serves the request, every retry and the order.
    /// </returns>
    internal static Result<OrderLine[]> Validate(IReadOnlyList<OrderLineRequest> lines, CommerceOptions options)
    {
        if (lines.Count == 0)
        {
            return Errors.EmptyOrder();
        }

        // Merge into an array sized for the request; it is trimmed only if duplicates were merged.
        var merged = new OrderLine[lines.Count];
        var count = 0;
        Dictionary<ProductId, int>? index = lines.Count > 8 ? new(lines.Count) : null;
        for (var i = 0; i < lines.Count; i++)
        {
            var line = lines[i];
            if (line.Quantity <= 0)
            {
                return Errors.NonPositiveQuantity(line.Quantity);
            }

            var at = IndexOf(merged, count, index, line.ProductId);
            if (at < 0)
            {
                index?.Add(line.ProductId, count);
                merged[count++] = new OrderLine(line.ProductId, line.Quantity, Money.Zero);
                continue;
            }

            var sum = (long)merged[at].Quantity + line.Quantity;
            if (sum > options.MaxLineQuantity)
            {
                return Errors.QuantityLimitExceeded(sum, options.MaxLineQuantity);
            }

            merged[at] = new OrderLine(line.ProductId, (int)sum, Money.Zero);
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

    private static int IndexOf(OrderLine[] merged, int count, Dictionary<ProductId, int>? index, ProductId productId)
    {
        if (index is not null)
        {
            return index.TryGetValue(productId, out var at) ? at : -1;
        }

        for (var i = 0; i < count; i++)
        {
            if (merged[i].ProductId == productId)
            {
                return i;
            }
        }

        return -1;
    }

    /// <summary>The use case, in the documented order: price, balance, stock, then pay, deduct, record.</summary>
    private static async ValueTask<Result<Order>> PlaceAsync(
        IUnitOfWork unitOfWork,
        (UserId User, OrderLine[] Lines, CommerceRuntime Runtime) state,
        CancellationToken ct)
    {
        var (user, priced, runtime) = state;

        // Price every line from the catalog, in place (see Validate); report every unknown product at once
        // (before any overflow).
        List<ProductId>? unknown = null;
        var overflow = false;
        for (var i = 0; i < priced.Length; i++)
        {
            var line = priced[i];
            var product = await unitOfWork.Products.FindAsync(line.ProductId, ct).ConfigureAwait(false);
            if (product is null)
            {
                (unknown ??= []).Add(line.ProductId);
            }
            else if (unknown is null && !overflow)
            {
                if (product.Price.TryMultiply(line.Quantity, out _))
                {
                    priced[i] = new OrderLine(line.ProductId, line.Quantity, product.Price);
                }
                else
                {
                    overflow = true;
                }
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

        if (!Order.TryTotal(priced, out var total))
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

        // Then stock for every line; the error names every short product.
        List<ProductId>? shortOf = null;
        for (var i = 0; i < priced.Length; i++)
        {
            var stock = await unitOfWork.Inventory.FindAsync(priced[i].ProductId, ct).ConfigureAwait(false);
            if (stock is null || stock.OnHand < priced[i].Quantity)
            {
                (shortOf ??= []).Add(priced[i].ProductId);
            }
        }

        if (shortOf is not null)
        {
            return Errors.InsufficientStock(shortOf);
        }

        // Everything checks out: stage payment, stock, the order and the sale; the commit applies all or nothing.
        // (Reading a stock again returns the state read above, from the unit of work.)
        var now = runtime.Time.GetUtcNow();
        // The order takes the priced lines as they are (nothing else keeps them), instead of copying them.
        var order = new Order(OrderId.New(now), user, ImmutableCollectionsMarshal.AsImmutableArray(priced), now);
        unitOfWork.Wallets.Save(paid.Value);
        for (var i = 0; i < priced.Length; i++)
        {
            var stock = await unitOfWork.Inventory.FindAsync(priced[i].ProductId, ct).ConfigureAwait(false);
            unitOfWork.Inventory.Save(stock!.Deduct(priced[i].Quantity).Value);
        }

        unitOfWork.Orders.Add(order);
        await unitOfWork.Sales.RecordAsync(order, ct).ConfigureAwait(false);
        return order;
    }
}
