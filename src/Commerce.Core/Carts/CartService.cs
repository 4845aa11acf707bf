using Commerce.Storage;

namespace Commerce;

/// <summary>Changes and shows carts, through the store's units of work.</summary>
internal sealed class CartService(CommerceRuntime runtime) : ICartService
{
    public async ValueTask<Result<Order>> CheckoutAsync(UserId user, CancellationToken cancellationToken = default)
    {
        var scope = runtime.Telemetry.Start(UseCase.Checkout, user);
        return scope.EndOrder(OrderService.Logged(runtime, user, await runtime.RunAsync(
            scope,
            "Checkout",
            (user, runtime),
            static (unitOfWork, state, ct) => CheckoutOnceAsync(unitOfWork, state, ct),
            cancellationToken).ConfigureAwait(false)));
    }

    public async ValueTask<Result<Order>> CheckoutAsync(UserId user, IdempotencyKey key, CancellationToken cancellationToken = default)
    {
        var scope = runtime.Telemetry.Start(UseCase.Checkout, user);
        if (!key.IsValid)
        {
            scope.ThrowIfCancellationRequested(cancellationToken);
        }

        var (result, replayed) = !key.IsValid ? (Errors.InvalidIdempotencyKey(key), false)
            : await Idempotent.RunAsync(runtime, KeyedCheckout, new Idempotent.Request(user, key, 0), (user, runtime), scope, cancellationToken).ConfigureAwait(false);
        // A replay placed nothing: its stored outcome was logged when it happened.
        return scope.EndOrder(replayed ? result : OrderService.Logged(runtime, user, result), replayed);
    }

    /// <summary>A checkout under an idempotency key: its record keeps the order's id.</summary>
    private static readonly Idempotent.KeyedUseCase<(UserId User, CommerceRuntime Runtime), Order> KeyedCheckout = new(
        "Checkout",
        IdempotentOperation.Checkout,
        static (unitOfWork, state) => unitOfWork.Prefetch(StoreKey.ForCart(state.User)),
        static (unitOfWork, state, ct) => CheckoutOnceAsync(unitOfWork, state, ct),
        static order => (Money.Zero, order.Id),
        OrderService.ReplayAsync);

    public ValueTask<Result<CartView>> AddItemAsync(UserId user, ProductId product, int quantity, CancellationToken cancellationToken = default)
    {
        if (quantity <= 0)
        {
            var scope = runtime.Telemetry.Start(UseCase.AddCartItem, user);
            if (cancellationToken.IsCancellationRequested)
            {
                // A caller that gave up gets the cancellation, as from a request the store would judge.
                scope.Fail(new OperationCanceledException(cancellationToken));
                return ValueTask.FromCanceled<Result<CartView>>(cancellationToken);
            }

            return ValueTask.FromResult(scope.End(Result<CartView>.Failure(Errors.NonPositiveQuantity(quantity))));
        }

        return runtime.TraceAsync(
            "AddCartItem",
            (user, product, quantity, runtime.Options.MaxLineQuantity, runtime.Options.MaxOrderLines),
            static async (unitOfWork, state, ct) =>
            {
                var (user, productId, quantity, maxLineQuantity, maxLines) = state;
                unitOfWork.Prefetch(StoreKey.ForCart(user));
                if (await unitOfWork.Products.FindAsync(productId, ct).ConfigureAwait(false) is null)
                {
                    return Errors.ProductNotFound(productId);
                }

                var cart = await unitOfWork.Carts.FindAsync(user, ct).ConfigureAwait(false) ?? Cart.Empty(user);

                // A cart holds no more products than an order may have: one past it could never be checked out,
                // and every change of a cart copies and prices all of its lines.
                if (cart.Lines.Length >= maxLines && !cart.Holds(productId))
                {
                    return Errors.CartFull(maxLines);
                }

                var added = cart.AddItem(productId, quantity, maxLineQuantity);
                if (added.IsFailure)
                {
                    return Result<CartView>.Failure(added.Error);
                }

                var view = await ViewAsync(unitOfWork, added.Value, ct).ConfigureAwait(false);
                if (view.IsSuccess)
                {
                    unitOfWork.Carts.Save(added.Value);
                }

                return view;
            },
            cancellationToken);
    }

    public ValueTask<Result<CartView>> RemoveItemAsync(UserId user, ProductId product, CancellationToken cancellationToken = default) =>
        runtime.TraceAsync(
            "RemoveCartItem",
            (user, product),
            static async (unitOfWork, state, ct) =>
            {
                var (user, productId) = state;
                var cart = await unitOfWork.Carts.FindAsync(user, ct).ConfigureAwait(false);
                if (cart is null)
                {
                    return Errors.CartItemNotFound(user, productId);
                }

                var removed = cart.RemoveItem(productId);
                if (removed.IsFailure)
                {
                    return Result<CartView>.Failure(removed.Error);
                }

                var view = await ViewAsync(unitOfWork, removed.Value, ct).ConfigureAwait(false);
                if (view.IsSuccess)
                {
                    unitOfWork.Carts.Save(removed.Value);
                }

                return view;
            },
            cancellationToken);

    public ValueTask<CartView> GetCartAsync(UserId user, CancellationToken cancellationToken = default) =>
        runtime.ReadAsync(
            "GetCart",
            user,
            static async (unitOfWork, user, ct) =>
            {
                var cart = await unitOfWork.Carts.FindAsync(user, ct).ConfigureAwait(false) ?? Cart.Empty(user);
                return await ViewAsync(unitOfWork, cart, ct).ConfigureAwait(false);
            },
            cancellationToken);

    /// <summary>
    /// One attempt of a checkout: the cart's lines go through the order use case (same validation, pricing,
    /// balance and stock checks), and the cart is emptied in the same commit; a refusal leaves it as it was.
    /// </summary>
    private static async ValueTask<Result<Order>> CheckoutOnceAsync(IUnitOfWork unitOfWork, (UserId User, CommerceRuntime Runtime) state, CancellationToken ct)
    {
        var (user, runtime) = state;
        var cart = await unitOfWork.Carts.FindAsync(user, ct).ConfigureAwait(false);
        if (cart is null || cart.Lines.IsEmpty)
        {
            return Errors.EmptyOrder();
        }

        var requested = new OrderLineRequest[cart.Lines.Length];
        for (var i = 0; i < requested.Length; i++)
        {
            requested[i] = new OrderLineRequest(cart.Lines[i].ProductId, cart.Lines[i].Quantity);
        }

        var lines = OrderService.Validate(requested, runtime.Options);
        if (lines.IsFailure)
        {
            return Result<Order>.Failure(lines.Error);
        }

        var placed = await OrderService.PlaceAsync(unitOfWork, (user, lines.Value, runtime), ct).ConfigureAwait(false);
        if (placed.IsSuccess)
        {
            unitOfWork.Carts.Save(cart.Clear());
        }

        return placed;
    }

    /// <summary>Joins a cart's lines with the catalog's names and current prices.</summary>
    private static async ValueTask<Result<CartView>> ViewAsync(IUnitOfWork unitOfWork, Cart cart, CancellationToken ct)
    {
        // Every product of the cart in one read.
        foreach (var line in cart.Lines)
        {
            unitOfWork.Prefetch(StoreKey.ForProduct(line.ProductId));
        }

        await unitOfWork.LoadAsync(ct).ConfigureAwait(false);
        var lines = new CartLineView[cart.Lines.Length];
        var total = Money.Zero;
        for (var i = 0; i < lines.Length; i++)
        {
            var line = cart.Lines[i];
            var product = await unitOfWork.Products.FindAsync(line.ProductId, ct).ConfigureAwait(false)
                ?? throw new InvalidOperationException($"The cart of user {cart.UserId} holds product {line.ProductId}, which the store does not have.");
            if (!product.Price.TryMultiply(line.Quantity, out var lineTotal) || !total.TryAdd(lineTotal, out total))
            {
                return Errors.AmountOverflow();
            }

            lines[i] = new CartLineView(line.ProductId, product.Name, product.Price, line.Quantity, lineTotal);
        }

        return new CartView(cart.UserId, Array.AsReadOnly(lines), total);
    }
}
