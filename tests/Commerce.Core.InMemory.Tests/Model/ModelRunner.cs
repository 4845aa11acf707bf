using Commerce.InMemory.Tests.Support;

namespace Commerce.InMemory.Tests.Model;

/// <summary>Runs commands against the real services and the model side by side and compares every answer and the whole observable state.</summary>
internal sealed class ModelRunner
{
    private readonly Shop _shop;
    private readonly ShopModel _model;
    private readonly List<Guid> _orderIds = [];

    public ModelRunner(Shop shop)
    {
        _shop = shop;
        _model = new ShopModel(shop.Options, shop.Time.GetUtcNow());
    }

    /// <summary>Every (command kind, answer kind) seen, such as "PlaceOrder: error InsufficientStock".</summary>
    public HashSet<string> Outcomes { get; } = [];

    /// <summary>Runs every command; throws (an assertion failure naming the step) at the first disagreement.</summary>
    public void Run(IReadOnlyList<Command> commands)
    {
        for (var step = 0; step < commands.Count; step++)
        {
            var command = commands[step];
            var (actual, expected) = Execute(command);
            Outcomes.Add($"{command.GetType().Name}: {string.Join(' ', expected.Split(' ').Take(expected.StartsWith("error", StringComparison.Ordinal) ? 2 : 1))}");
            Assert.True(expected == actual, $"step {step}, {command}:\n  model:    {expected}\n  services: {actual}");
            var (actualState, expectedState) = (Observe(), ObserveModel());
            Assert.True(expectedState == actualState, $"state after step {step}, {command}:\n  model:    {expectedState}\n  services: {actualState}");
        }
    }

    private static string Describe<T>(Result<T> result, Func<T, string> describe) =>
        result.IsSuccess ? ShopModel.Ok(describe(result.Value)) : ShopModel.Describe(result.Error);

    private (string Actual, string Expected) Execute(Command command)
    {
        switch (command)
        {
            case Charge c:
                return (Describe(Sync.Run(_shop.Wallets.ChargeAsync(new UserId(c.User), new Money(c.Amount))), b => $"balance={b}"), _model.Charge(c.User, c.Amount));
            case GetBalance g:
                return (Sync.Run(_shop.Wallets.GetBalanceAsync(new UserId(g.User))).ToString(), _model.Balance(g.User).ToString(System.Globalization.CultureInfo.InvariantCulture));
            case AddProduct a:
                return (Describe(Sync.Run(_shop.Catalog.AddProductAsync(new ProductId(a.Product), a.Name, new Money(a.Price), a.Stock)), ShopModel.Describe), _model.AddProduct(a.Product, a.Name, a.Price, a.Stock));
            case Restock r:
                return (Describe(Sync.Run(_shop.Catalog.RestockAsync(new ProductId(r.Product), r.Quantity)), ShopModel.Describe), _model.Restock(r.Product, r.Quantity));
            case GetProduct g:
                return (Describe(Sync.Run(_shop.Catalog.GetProductAsync(new ProductId(g.Product))), ShopModel.Describe), _model.GetProduct(g.Product));
            case AddCartItem a:
                return (Describe(Sync.Run(_shop.Carts.AddItemAsync(new UserId(a.User), new ProductId(a.Product), a.Quantity)), ShopModel.Describe), _model.AddCartItem(a.User, a.Product, a.Quantity));
            case RemoveCartItem r:
                return (Describe(Sync.Run(_shop.Carts.RemoveItemAsync(new UserId(r.User), new ProductId(r.Product))), ShopModel.Describe), _model.RemoveCartItem(r.User, r.Product));
            case PlaceOrder p:
            {
                var result = Sync.Run(_shop.Orders.PlaceOrderAsync(new UserId(p.User), p.Lines.Select(l => new OrderLineRequest(new ProductId(l.Product), l.Quantity)).ToArray()));
                var expected = _model.PlaceOrder(p.User, p.Lines, out var placed);
                if (result.IsSuccess && placed is not null)
                {
                    _orderIds.Add(result.Value.Id.Value);
                    _model.RememberOrder(result.Value.Id.Value, placed);
                }

                return (Describe(result, ShopModel.Describe), expected);
            }

            case GetOrder g:
            {
                var id = g.Index < _orderIds.Count ? _orderIds[g.Index] : new Guid(g.Index, 0, 0, new byte[8]);
                var result = Sync.Run(_shop.Orders.GetOrderAsync(new OrderId(id)));
                Assert.True(result.IsFailure || result.Value.Id.Value == id, "GetOrder returned another order");
                return (Describe(result, ShopModel.Describe), _model.GetOrder(id));
            }

            case QueryRanking q:
                return (ShopModel.Describe(Sync.Run(_shop.Ranking.GetPopularProductsAsync(q.Count, q.Window))), _model.Ranking(q.Count, q.Window));
            case AdvanceTime t:
                _shop.Time.Advance(t.By);
                _model.Advance(t.By);
                return ("advanced", "advanced");
            default:
                throw new InvalidOperationException($"Unknown command {command}.");
        }
    }

    private string Observe()
    {
        var parts = new List<string>();
        for (var u = 1; u <= CommandGenerators.Users; u++)
        {
            parts.Add($"u{u}={Sync.Run(_shop.Wallets.GetBalanceAsync(new UserId(u)))}");
            parts.Add(ShopModel.Describe(Sync.Run(_shop.Carts.GetCartAsync(new UserId(u)))));
        }

        for (var p = 1; p <= CommandGenerators.Products; p++)
        {
            parts.Add(Describe(Sync.Run(_shop.Catalog.GetProductAsync(new ProductId(p))), ShopModel.Describe));
        }

        parts.Add(string.Join(" | ", Sync.Run(_shop.Catalog.ListProductsAsync()).Select(ShopModel.Describe)));
        parts.Add(ShopModel.Describe(Sync.Run(_shop.Ranking.GetPopularProductsAsync())));
        return string.Join("\n  ", parts);
    }

    private string ObserveModel()
    {
        var parts = new List<string>();
        for (var u = 1; u <= CommandGenerators.Users; u++)
        {
            parts.Add($"u{u}={_model.Balance(u)}");
            parts.Add(_model.GetCart(u));
        }

        for (var p = 1; p <= CommandGenerators.Products; p++)
        {
            parts.Add(_model.GetProduct(p));
        }

        parts.Add(_model.ListProducts());
        parts.Add(_model.Ranking(_shop.Options.PopularProductsCount, _shop.Options.PopularProductsWindow));
        return string.Join("\n  ", parts);
    }
}
