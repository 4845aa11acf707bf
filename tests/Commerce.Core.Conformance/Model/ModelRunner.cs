using System.Globalization;

namespace Commerce.Conformance.Model;

/// <summary>
/// Runs commands against a shop's real services and against <see cref="ShopModel"/> side by side: after
/// every command the answers (value, or error code and the products it names) and the whole observable
/// state, ledgers and order lists included, must be the same.
/// </summary>
public sealed class ModelRunner
{
    private readonly Shop _shop;
    private readonly ShopModel _model;
    private readonly List<Guid> _orderIds = [];

    /// <summary>The largest page of a ledger or an order list, which holds all of a generated list's.</summary>
    private const int MaxList = 1000;

    /// <summary>A runner over a fresh shop, configured with <see cref="CommandGenerators.Limits"/> (or limits the commands suit).</summary>
    public ModelRunner(Shop shop)
    {
        ArgumentNullException.ThrowIfNull(shop);
        _shop = shop;
        _model = new ShopModel(shop.Options, shop.Time.GetUtcNow());
    }

    /// <summary>
    /// Every (command kind, outcome) seen, such as "PlaceOrder: ok" or "PlaceOrder: error InsufficientStock";
    /// a keyed call's outcome also tells whether a stored outcome answered it ("KeyedCharge: ok replayed")
    /// or its key's record had expired ("KeyedCharge: ok after expiry").
    /// </summary>
    public HashSet<string> Outcomes { get; } = [];

    /// <summary>
    /// Runs every command, blocking; throws (an assertion failure naming the step) at the first
    /// disagreement. For synchronous callers such as an FsCheck property.
    /// </summary>
    public void Run(IReadOnlyList<Command> commands) => Task.Run(() => RunAsync(commands)).GetAwaiter().GetResult();

    /// <summary>Runs every command; throws (an assertion failure naming the step) at the first disagreement.</summary>
    public async Task RunAsync(IReadOnlyList<Command> commands)
    {
        ArgumentNullException.ThrowIfNull(commands);
        for (var step = 0; step < commands.Count; step++)
        {
            var command = commands[step];
            var (actual, expected) = await ExecuteAsync(command);
            var outcome = expected.StartsWith("error ", StringComparison.Ordinal) ? string.Join(' ', expected.Split(' ').Take(2)) : "ok";
            var keyUse = _model.TakeKeyUse();
            Outcomes.Add($"{command.GetType().Name}: {outcome}{(keyUse is null ? "" : " " + keyUse)}");
            Assert.True(expected == actual, $"step {step}, {command}:\n  model:    {expected}\n  services: {actual}");
            var (actualState, expectedState) = (await ObserveAsync(), ObserveModel());
            Assert.True(expectedState == actualState, $"state after step {step}, {command}:\n  model:    {expectedState}\n  services: {actualState}");
        }
    }

    private static string Describe<T>(Result<T> result, Func<T, string> describe) =>
        result.IsSuccess ? ShopModel.Ok(describe(result.Value)) : ShopModel.Describe(result.Error);

    /// <summary>The model's name of an order id the services gave: its position among the orders placed, or the raw id if it is not one of them.</summary>
    private string Name(OrderId id) => _orderIds.IndexOf(id.Value) is var at and >= 0 ? ShopModel.OrderName(at) : "?" + id.Value.ToString("N");

    /// <summary>
    /// The id to ask the services for the n-th order placed: a known id, or for an index past the end an id
    /// that was never issued.
    /// </summary>
    private Guid IdOf(int index) => index < _orderIds.Count ? _orderIds[index] : new Guid(index, 0, 0, new byte[8]);

    private string DescribeOrder(Result<Order> result) => Describe(result, o => ShopModel.Describe(o, Name));

    /// <summary>
    /// Runs a call that may place an order on the services, then on the model; when both placed a new
    /// one, the services' id is remembered under the model's position for it. When they disagree, the
    /// descriptions differ (a new id has no name yet).
    /// </summary>
    private async Task<(string Actual, string Expected)> PlacingAsync(Func<ValueTask<Result<Order>>> services, Func<string> model)
    {
        var result = await services();
        var before = _model.OrderCount;
        var expected = model();
        if (_model.OrderCount > before && result.IsSuccess && !_orderIds.Contains(result.Value.Id.Value))
        {
            _orderIds.Add(result.Value.Id.Value);
        }

        return (DescribeOrder(result), expected);
    }

    private static OrderLineRequest[] Lines((long Product, int Quantity)[] lines) =>
        lines.Select(l => new OrderLineRequest(new ProductId(l.Product), l.Quantity)).ToArray();

    private async Task<(string Actual, string Expected)> ExecuteAsync(Command command)
    {
        switch (command)
        {
            case Command.Charge c:
                return (Describe(await _shop.Wallets.ChargeAsync(new UserId(c.User), new Money(c.Amount)), b => $"balance={b}"), _model.Charge(c.User, c.Amount));
            case Command.KeyedCharge c:
                return (Describe(await _shop.Wallets.ChargeAsync(new UserId(c.User), new Money(c.Amount), new IdempotencyKey(c.Key!)), b => $"balance={b}"), _model.KeyedCharge(c.User, c.Amount, c.Key));
            case Command.GetBalance g:
                return ((await _shop.Wallets.GetBalanceAsync(new UserId(g.User))).ToString(), _model.Balance(g.User).ToString(CultureInfo.InvariantCulture));
            case Command.GetLedger l:
                return (ShopModel.Describe(await _shop.Wallets.GetLedgerAsync(new UserId(l.User), l.After, l.Limit), Name), _model.Ledger(l.User, l.After, l.Limit));
            case Command.AddProduct a:
                return (Describe(await _shop.Catalog.AddProductAsync(new ProductId(a.Product), a.Name, new Money(a.Price), a.Stock), ShopModel.Describe), _model.AddProduct(a.Product, a.Name, a.Price, a.Stock));
            case Command.Restock r:
                return (Describe(await _shop.Catalog.RestockAsync(new ProductId(r.Product), r.Quantity), ShopModel.Describe), _model.Restock(r.Product, r.Quantity));
            case Command.GetProduct g:
                return (Describe(await _shop.Catalog.GetProductAsync(new ProductId(g.Product)), ShopModel.Describe), _model.GetProduct(g.Product));
            case Command.ListProducts l:
                var after = l.After is { } last ? new ProductId(last) : (ProductId?)null;
                return (ShopModel.Describe(await _shop.Catalog.ListProductsAsync(after, l.Limit)), _model.ListProducts(l.After, l.Limit));
            case Command.AddCartItem a:
                return (Describe(await _shop.Carts.AddItemAsync(new UserId(a.User), new ProductId(a.Product), a.Quantity), ShopModel.Describe), _model.AddCartItem(a.User, a.Product, a.Quantity));
            case Command.RemoveCartItem r:
                return (Describe(await _shop.Carts.RemoveItemAsync(new UserId(r.User), new ProductId(r.Product)), ShopModel.Describe), _model.RemoveCartItem(r.User, r.Product));
            case Command.PlaceOrder p:
                return await PlacingAsync(() => _shop.Orders.PlaceOrderAsync(new UserId(p.User), Lines(p.Lines)), () => _model.PlaceOrder(p.User, p.Lines));
            case Command.KeyedOrder k:
                return await PlacingAsync(() => _shop.Orders.PlaceOrderAsync(new UserId(k.User), Lines(k.Lines), new IdempotencyKey(k.Key!)), () => _model.KeyedOrder(k.User, k.Lines, k.Key));
            case Command.Checkout c:
                return await PlacingAsync(() => _shop.Carts.CheckoutAsync(new UserId(c.User)), () => _model.Checkout(c.User));
            case Command.KeyedCheckout k:
                return await PlacingAsync(() => _shop.Carts.CheckoutAsync(new UserId(k.User), new IdempotencyKey(k.Key!)), () => _model.KeyedCheckout(k.User, k.Key));
            case Command.GetOrder g:
            {
                var id = IdOf(g.Index);
                var result = await _shop.Orders.GetOrderAsync(new OrderId(id));
                if (result.IsSuccess)
                {
                    Assert.True(result.Value.Id.Value == id, $"GetOrder({id}) returned order {result.Value.Id}.");
                }

                return (DescribeOrder(result), _model.GetOrder(g.Index));
            }

            case Command.CancelOrder c:
            {
                var id = IdOf(c.Index);
                var result = await _shop.Orders.CancelOrderAsync(new OrderId(id));
                if (result.IsSuccess)
                {
                    Assert.True(result.Value.Id.Value == id, $"CancelOrder({id}) returned order {result.Value.Id}.");
                }

                return (DescribeOrder(result), _model.CancelOrder(c.Index));
            }

            case Command.ListOrders l:
                return (ShopModel.Describe(await _shop.Orders.ListOrdersAsync(new UserId(l.User), l.Limit), Name), _model.ListOrders(l.User, l.Limit));
            case Command.QueryRanking q:
                return (ShopModel.Describe(await _shop.Ranking.GetPopularProductsAsync(q.Count, q.Window)), _model.Ranking(q.Count, q.Window));
            case Command.AdvanceTime t:
                _shop.Time.Advance(t.By);
                _model.Advance(t.By);
                return ("advanced", "advanced");
            case Command.SetClock t:
                _shop.Time.AdjustTime(_shop.Time.GetUtcNow() + t.By);
                _model.Advance(t.By);
                return ("set", "set");
            default:
                throw new InvalidOperationException($"Unknown command {command}.");
        }
    }

    /// <summary>Everything observable about the users and products the commands use.</summary>
    private async Task<string> ObserveAsync()
    {
        var parts = new List<string>();
        for (var u = 1; u <= CommandGenerators.Users; u++)
        {
            parts.Add($"u{u}={await _shop.Wallets.GetBalanceAsync(new UserId(u))}");
            parts.Add(ShopModel.Describe(await _shop.Carts.GetCartAsync(new UserId(u))));
            parts.Add(ShopModel.Describe(await _shop.Wallets.GetLedgerAsync(new UserId(u), 0, MaxList), Name));
            parts.Add(ShopModel.Describe(await _shop.Orders.ListOrdersAsync(new UserId(u), MaxList), Name));
        }

        for (var p = 1; p <= CommandGenerators.Products; p++)
        {
            parts.Add(Describe(await _shop.Catalog.GetProductAsync(new ProductId(p)), ShopModel.Describe));
        }

        parts.Add(ShopModel.Describe(await _shop.Catalog.ListProductsAsync()));
        parts.Add(ShopModel.Describe(await _shop.Ranking.GetPopularProductsAsync()));
        return string.Join("\n  ", parts);
    }

    private string ObserveModel()
    {
        var parts = new List<string>();
        for (var u = 1; u <= CommandGenerators.Users; u++)
        {
            parts.Add($"u{u}={_model.Balance(u).ToString(CultureInfo.InvariantCulture)}");
            parts.Add(_model.GetCart(u));
            parts.Add(_model.Ledger(u, 0, MaxList));
            parts.Add(_model.ListOrders(u, MaxList));
        }

        for (var p = 1; p <= CommandGenerators.Products; p++)
        {
            parts.Add(_model.GetProduct(p));
        }

        parts.Add(_model.ListProducts());
        parts.Add(_model.Ranking());
        return string.Join("\n  ", parts);
    }
}
