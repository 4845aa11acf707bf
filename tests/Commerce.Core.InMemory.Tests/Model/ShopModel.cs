using System.Globalization;
using System.Text;

namespace Commerce.InMemory.Tests.Model;

/// <summary>
/// The library's documented behaviour as a plain sequential program over dictionaries. Every answer is a
/// canonical string (see <see cref="Describe"/>) so that the real services' answers compare with it directly.
/// </summary>
internal sealed class ShopModel(CommerceOptions options, DateTimeOffset start)
{
    private readonly Dictionary<long, long> _balances = [];
    private readonly SortedDictionary<long, (string Name, long Price, int Stock)> _products = [];
    private readonly Dictionary<long, List<(long Product, int Quantity)>> _carts = [];
    private readonly Dictionary<Guid, string> _orders = [];
    private readonly List<(long Product, long Quantity, DateTimeOffset At)> _sales = [];

    public DateTimeOffset Now { get; private set; } = start;

    /// <summary>Total money ever charged (for conservation checks).</summary>
    public long Charged { get; private set; }

    public static string Ok(string what) => "ok " + what;

    public static string Error(CommerceErrorCode code, IEnumerable<long>? ids = null) =>
        ids is null ? $"error {code}" : $"error {code} [{string.Join(",", ids.Order())}]";

    public static string Describe(CommerceError error) => error.Code is CommerceErrorCode.ProductNotFound or CommerceErrorCode.InsufficientStock
        ? Error(error.Code, error.ProductIds.Select(p => p.Value))
        : Error(error.Code);

    public static string Describe(ProductSummary p) => F($"P{p.Id} '{p.Name}' price={p.Price} stock={p.Stock}");

    public static string Describe(Order o) =>
        F($"order u{o.UserId} [{string.Join("; ", o.Lines.Select(l => F($"P{l.ProductId} {l.Quantity}×{l.UnitPrice}={l.LineTotal}")))}] total={o.Total} at={o.PlacedAt:O}");

    public static string Describe(CartView c) =>
        F($"cart u{c.UserId} [{string.Join("; ", c.Lines.Select(l => F($"P{l.ProductId} '{l.Name}' {l.Quantity}×{l.UnitPrice}={l.LineTotal}")))}] total={c.Total}");

    public static string Describe(IEnumerable<PopularProduct> ranking) =>
        "[" + string.Join("; ", ranking.Select(p => F($"#{p.Rank} P{p.ProductId} '{p.Name}' {p.Price} sold={p.QuantitySold}"))) + "]";

    private static string F(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);

    public long Balance(long user) => _balances.GetValueOrDefault(user);

    public string Charge(long user, long amount)
    {
        var balance = Balance(user);
        if (amount <= 0)
        {
            return Error(CommerceErrorCode.InvalidAmount);
        }

        if (amount > options.MaxChargeAmount.Amount)
        {
            return Error(CommerceErrorCode.ChargeLimitExceeded);
        }

        if ((Int128)balance + amount > options.MaxBalance.Amount)
        {
            return Error(CommerceErrorCode.BalanceLimitExceeded);
        }

        _balances[user] = balance + amount;
        Charged += amount;
        return Ok(F($"balance={balance + amount}"));
    }

    public string AddProduct(long id, string name, long price, int stock)
    {
        if (string.IsNullOrWhiteSpace(name) || name.Length > options.MaxProductNameLength)
        {
            return Error(CommerceErrorCode.InvalidProductName);
        }

        if (price < 0)
        {
            return Error(CommerceErrorCode.InvalidAmount);
        }

        if (stock < 0)
        {
            return Error(CommerceErrorCode.InvalidQuantity);
        }

        if (_products.ContainsKey(id))
        {
            return Error(CommerceErrorCode.ProductAlreadyExists);
        }

        _products[id] = (name, price, stock);
        return Ok(Product(id));
    }

    public string Restock(long id, int quantity)
    {
        if (quantity <= 0)
        {
            return Error(CommerceErrorCode.InvalidQuantity);
        }

        if (!_products.TryGetValue(id, out var p))
        {
            return Error(CommerceErrorCode.ProductNotFound, [id]);
        }

        if ((long)p.Stock + quantity > int.MaxValue)
        {
            return Error(CommerceErrorCode.InvalidQuantity);
        }

        _products[id] = p with { Stock = p.Stock + quantity };
        return Ok(Product(id));
    }

    public string GetProduct(long id) => _products.ContainsKey(id) ? Ok(Product(id)) : Error(CommerceErrorCode.ProductNotFound, [id]);

    public int Stock(long id) => _products.TryGetValue(id, out var p) ? p.Stock : 0;

    private string Product(long id)
    {
        var p = _products[id];
        return F($"P{id} '{p.Name}' price={p.Price} stock={p.Stock}");
    }

    public string ListProducts() => string.Join(" | ", _products.Keys.Take(options.DefaultPageSize).Select(Product));

    public string AddCartItem(long user, long product, int quantity)
    {
        if (quantity <= 0)
        {
            return Error(CommerceErrorCode.InvalidQuantity);
        }

        if (!_products.ContainsKey(product))
        {
            return Error(CommerceErrorCode.ProductNotFound, [product]);
        }

        var lines = _carts.TryGetValue(user, out var cart) ? [.. cart] : new List<(long Product, int Quantity)>();
        var at = lines.FindIndex(l => l.Product == product);
        var next = (at < 0 ? 0L : lines[at].Quantity) + quantity;
        if (next > options.MaxLineQuantity)
        {
            return Error(CommerceErrorCode.InvalidQuantity);
        }

        if (at < 0)
        {
            lines.Add((product, (int)next));
        }
        else
        {
            lines[at] = (product, (int)next);
        }

        return SaveCart(user, lines);
    }

    public string RemoveCartItem(long user, long product)
    {
        if (!_carts.TryGetValue(user, out var cart) || cart.FindIndex(l => l.Product == product) is var at && at < 0)
        {
            return Error(CommerceErrorCode.CartItemNotFound);
        }

        var lines = new List<(long Product, int Quantity)>(cart);
        lines.RemoveAt(at);
        return SaveCart(user, lines);
    }

    private string SaveCart(long user, List<(long Product, int Quantity)> lines)
    {
        var view = CartView(user, lines);
        if (view is not null)
        {
            _carts[user] = lines;
            return Ok(view);
        }

        return Error(CommerceErrorCode.AmountOverflow);
    }

    public string GetCart(long user) => CartView(user, _carts.GetValueOrDefault(user) ?? [])!;

    private string? CartView(long user, List<(long Product, int Quantity)> lines)
    {
        Int128 total = 0;
        var parts = new StringBuilder();
        foreach (var (product, quantity) in lines)
        {
            var p = _products[product];
            var lineTotal = (Int128)p.Price * quantity;
            total += lineTotal;
            if (lineTotal > long.MaxValue || total > long.MaxValue)
            {
                return null;
            }

            parts.Append(parts.Length == 0 ? "" : "; ").Append(F($"P{product} '{p.Name}' {quantity}×{p.Price}={lineTotal}"));
        }

        return F($"cart u{user} [{parts}] total={total}");
    }

    /// <summary>Places an order; on success returns the description and, through <paramref name="placed"/>, what to remember under the real id.</summary>
    public string PlaceOrder(long user, (long Product, int Quantity)[] requested, out string? placed)
    {
        placed = null;
        if (requested.Length == 0)
        {
            return Error(CommerceErrorCode.EmptyOrder);
        }

        var merged = new List<(long Product, int Quantity)>();
        foreach (var (product, quantity) in requested)
        {
            if (quantity <= 0)
            {
                return Error(CommerceErrorCode.InvalidQuantity);
            }

            var at = merged.FindIndex(l => l.Product == product);
            if (at < 0)
            {
                merged.Add((product, quantity));
                continue;
            }

            var sum = (long)merged[at].Quantity + quantity;
            if (sum > options.MaxLineQuantity)
            {
                return Error(CommerceErrorCode.InvalidQuantity);
            }

            merged[at] = (product, (int)sum);
        }

        if (merged.Any(l => l.Quantity > options.MaxLineQuantity))
        {
            return Error(CommerceErrorCode.InvalidQuantity);
        }

        if (merged.Count > options.MaxOrderLines)
        {
            return Error(CommerceErrorCode.TooManyLines);
        }

        // Every unknown product is reported before any price is computed.
        var unknown = merged.Where(l => !_products.ContainsKey(l.Product)).Select(l => l.Product).ToList();
        if (unknown.Count > 0)
        {
            return Error(CommerceErrorCode.ProductNotFound, unknown);
        }

        var total = merged.Aggregate((Int128)0, (sum, l) => sum + ((Int128)_products[l.Product].Price * l.Quantity));
        if (total > long.MaxValue)
        {
            return Error(CommerceErrorCode.AmountOverflow);
        }

        if (Balance(user) < total)
        {
            return Error(CommerceErrorCode.InsufficientBalance);
        }

        var shortOf = merged.Where(l => _products[l.Product].Stock < l.Quantity).Select(l => l.Product).ToList();
        if (shortOf.Count > 0)
        {
            return Error(CommerceErrorCode.InsufficientStock, shortOf);
        }

        _balances[user] = Balance(user) - (long)total;
        var lines = new List<string>();
        foreach (var (product, quantity) in merged)
        {
            var p = _products[product];
            _products[product] = p with { Stock = p.Stock - quantity };
            _sales.Add((product, quantity, Now));
            lines.Add(F($"P{product} {quantity}×{p.Price}={p.Price * quantity}"));
        }

        placed = F($"order u{user} [{string.Join("; ", lines)}] total={total} at={Now:O}");
        return Ok(placed);
    }

    public void RememberOrder(Guid id, string description) => _orders[id] = description;

    public string GetOrder(Guid id) => _orders.TryGetValue(id, out var order) ? Ok(order) : Error(CommerceErrorCode.OrderNotFound);

    /// <summary>Brute force: every sale inside the covered window, summed per product, best first, ties by lower id.</summary>
    public string Ranking(int count, TimeSpan window)
    {
        var (from, to) = SalesWindow.Covering(Now, window, options.RankingResolution);
        var rows = _sales
            .Where(s => s.At >= from && s.At < to)
            .GroupBy(s => s.Product)
            .Select(g => (Product: g.Key, Sold: g.Sum(s => s.Quantity)))
            .OrderByDescending(x => x.Sold)
            .ThenBy(x => x.Product)
            .Take(count)
            .Select((x, i) => F($"#{i + 1} P{x.Product} '{_products[x.Product].Name}' {_products[x.Product].Price} sold={x.Sold}"));
        return "[" + string.Join("; ", rows) + "]";
    }

    /// <summary>Units sold per product, ever.</summary>
    public long Sold(long product) => _sales.Where(s => s.Product == product).Sum(s => s.Quantity);

    public void Advance(TimeSpan by) => Now += by;
}
