using System.Globalization;

namespace Commerce.Conformance.Model;

/// <summary>
/// The library's documented rules as a plain sequential program over dictionaries. Every answer is a
/// canonical string (see the <c>Describe</c> methods) so that the real services' answers compare with
/// it directly: values, error codes and the products an error names.
/// </summary>
public sealed class ShopModel(CommerceOptions options, DateTimeOffset start)
{
    private readonly Dictionary<long, long> _balances = [];
    private readonly SortedDictionary<long, (string Name, long Price, int Stock)> _products = [];
    private readonly Dictionary<long, List<(long Product, int Quantity)>> _carts = [];
    private readonly Dictionary<Guid, string> _orders = [];
    private readonly List<(long Product, long Quantity, DateTimeOffset At)> _sales = [];

    /// <summary>The model's clock: the shop's start plus every <see cref="Advance"/>.</summary>
    public DateTimeOffset Now { get; private set; } = start;

    public static string Ok(string what) => "ok " + what;

    /// <summary>A refusal: its code and, if it names any, the products in ascending order.</summary>
    public static string Error(CommerceErrorCode code, params IEnumerable<long> products) =>
        products.Order().ToList() is { Count: > 0 } ids ? F($"error {code} [{string.Join(",", ids)}]") : F($"error {code}");

    public static string Describe(CommerceError error)
    {
        ArgumentNullException.ThrowIfNull(error);
        return Error(error.Code, error.ProductIds.Select(p => p.Value));
    }

    public static string Describe(ProductSummary product)
    {
        ArgumentNullException.ThrowIfNull(product);
        return Product(product.Id.Value, product.Name, product.Price.Amount, product.Stock);
    }

    public static string Describe(IEnumerable<ProductSummary> page) => "[" + string.Join(" | ", page.Select(Describe)) + "]";

    public static string Describe(Order order)
    {
        ArgumentNullException.ThrowIfNull(order);
        return OrderText(order.UserId.Value, order.Lines.Select(l => OrderLine(l.ProductId.Value, l.Quantity, l.UnitPrice.Amount, l.LineTotal.Amount)), order.Total.Amount, order.PlacedAt);
    }

    public static string Describe(CartView cart)
    {
        ArgumentNullException.ThrowIfNull(cart);
        return CartText(cart.UserId.Value, cart.Lines.Select(l => CartLine(l.ProductId.Value, l.Name, l.Quantity, l.UnitPrice.Amount, l.LineTotal.Amount)), cart.Total.Amount);
    }

    public static string Describe(IEnumerable<PopularProduct> ranking) =>
        "[" + string.Join("; ", ranking.Select(p => Popular(p.Rank, p.ProductId.Value, p.Name, p.Price.Amount, p.QuantitySold))) + "]";

    private static string F(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);

    private static string Product(long id, string name, long price, int stock) => F($"P{id} '{name}' price={price} stock={stock}");

    private static string OrderLine(long product, int quantity, long price, Int128 total) => F($"P{product} {quantity}×{price}={total}");

    private static string OrderText(long user, IEnumerable<string> lines, Int128 total, DateTimeOffset at) =>
        F($"order u{user} [{string.Join("; ", lines)}] total={total} at={at:O}");

    private static string CartLine(long product, string name, int quantity, long price, Int128 total) => F($"P{product} '{name}' {quantity}×{price}={total}");

    private static string CartText(long user, IEnumerable<string> lines, Int128 total) => F($"cart u{user} [{string.Join("; ", lines)}] total={total}");

    private static string Popular(int rank, long product, string name, long price, long sold) => F($"#{rank} P{product} '{name}' {price} sold={sold}");

    // ---- wallets --------------------------------------------------------------------------------

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
        return Ok(F($"balance={balance + amount}"));
    }

    // ---- catalog --------------------------------------------------------------------------------

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
            return Error(CommerceErrorCode.ProductAlreadyExists, id);
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
            return Error(CommerceErrorCode.ProductNotFound, id);
        }

        if ((long)p.Stock + quantity > int.MaxValue)
        {
            return Error(CommerceErrorCode.InvalidQuantity, id);
        }

        _products[id] = p with { Stock = p.Stock + quantity };
        return Ok(Product(id));
    }

    public string GetProduct(long id) => _products.ContainsKey(id) ? Ok(Product(id)) : Error(CommerceErrorCode.ProductNotFound, id);

    /// <summary>Keyset paging: the products after <paramref name="after"/> (from the lowest if null), in ascending id order, at most <paramref name="limit"/>.</summary>
    public string ListProducts(long? after, int limit) =>
        "[" + string.Join(" | ", _products.Keys.Where(id => after is null || id > after).Take(limit).Select(Product)) + "]";

    /// <summary>The first page, of the default size.</summary>
    public string ListProducts() => ListProducts(null, options.DefaultPageSize);

    private string Product(long id)
    {
        var p = _products[id];
        return Product(id, p.Name, p.Price, p.Stock);
    }

    // ---- carts ----------------------------------------------------------------------------------

    public string AddCartItem(long user, long product, int quantity)
    {
        if (quantity <= 0)
        {
            return Error(CommerceErrorCode.InvalidQuantity);
        }

        if (!_products.ContainsKey(product))
        {
            return Error(CommerceErrorCode.ProductNotFound, product);
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
        var at = _carts.TryGetValue(user, out var cart) ? cart.FindIndex(l => l.Product == product) : -1;
        if (at < 0)
        {
            return Error(CommerceErrorCode.CartItemNotFound, product);
        }

        var lines = new List<(long Product, int Quantity)>(cart!);
        lines.RemoveAt(at);
        return SaveCart(user, lines);
    }

    /// <summary>Keeps the new lines only if the cart's total still fits in a 64-bit amount.</summary>
    private string SaveCart(long user, List<(long Product, int Quantity)> lines)
    {
        if (CartView(user, lines) is not { } view)
        {
            return Error(CommerceErrorCode.AmountOverflow);
        }

        _carts[user] = lines;
        return Ok(view);
    }

    public string GetCart(long user) => CartView(user, _carts.GetValueOrDefault(user) ?? [])!;

    private string? CartView(long user, List<(long Product, int Quantity)> lines)
    {
        Int128 total = 0;
        var parts = new List<string>();
        foreach (var (product, quantity) in lines)
        {
            var p = _products[product];
            var lineTotal = (Int128)p.Price * quantity;
            total += lineTotal;
            if (lineTotal > long.MaxValue || total > long.MaxValue)
            {
                return null;
            }

            parts.Add(CartLine(product, p.Name, quantity, p.Price, lineTotal));
        }

        return CartText(user, parts, total);
    }

    // ---- orders ---------------------------------------------------------------------------------

    /// <summary>
    /// Places an order. On success returns its description and, through <paramref name="placed"/>, what
    /// to remember under the id the services gave it (<see cref="RememberOrder"/>).
    /// </summary>
    public string PlaceOrder(long user, IReadOnlyList<(long Product, int Quantity)> requested, out string? placed)
    {
        ArgumentNullException.ThrowIfNull(requested);
        placed = null;
        if (requested.Count == 0)
        {
            return Error(CommerceErrorCode.EmptyOrder);
        }

        // Lines of one product merge into one; every quantity, and every merged one, must be in range.
        var merged = new List<(long Product, long Quantity)>();
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
            }
            else
            {
                merged[at] = (product, merged[at].Quantity + quantity);
            }
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
            _products[product] = p with { Stock = p.Stock - (int)quantity };
            _sales.Add((product, quantity, Now));
            lines.Add(OrderLine(product, (int)quantity, p.Price, (Int128)p.Price * quantity));
        }

        placed = OrderText(user, lines, total, Now);
        return Ok(placed);
    }

    public void RememberOrder(Guid id, string description) => _orders[id] = description;

    public string GetOrder(Guid id) => _orders.TryGetValue(id, out var order) ? Ok(order) : Error(CommerceErrorCode.OrderNotFound);

    // ---- ranking --------------------------------------------------------------------------------

    /// <summary>
    /// Brute force over every sale, as documented: time is cut into buckets of the ranking resolution
    /// aligned to the Unix epoch; a query over window W counts the bucket holding now and the
    /// ceil(W / resolution) − 1 buckets before it; most units first, ties by lower id.
    /// </summary>
    public string Ranking(int count, TimeSpan window)
    {
        var resolution = options.RankingResolution.Ticks;
        long Bucket(DateTimeOffset at)
        {
            var bucket = Math.DivRem(at.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks, resolution, out var rest);
            return rest < 0 ? bucket - 1 : bucket;
        }

        var end = Bucket(Now) + 1;
        var first = end - ((window.Ticks + resolution - 1) / resolution);
        var rows = _sales
            .Where(s => Bucket(s.At) >= first && Bucket(s.At) < end)
            .GroupBy(s => s.Product)
            .Select(g => (Product: g.Key, Sold: g.Sum(s => s.Quantity)))
            .OrderByDescending(x => x.Sold)
            .ThenBy(x => x.Product)
            .Take(count)
            .Select((x, i) => Popular(i + 1, x.Product, _products[x.Product].Name, _products[x.Product].Price, x.Sold));
        return "[" + string.Join("; ", rows) + "]";
    }

    /// <summary>The ranking the services give by default.</summary>
    public string Ranking() => Ranking(options.PopularProductsCount, options.PopularProductsWindow);

    public void Advance(TimeSpan by) => Now += by;
}
