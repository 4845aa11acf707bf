using System.Globalization;
using Commerce.Storage;

namespace Commerce.Conformance.Model;

/// <summary>
/// The library's documented rules as a plain sequential program over dictionaries. Every answer is a
/// canonical string (see the <c>Describe</c> methods) so that the real services' answers compare with
/// it directly: values, error codes and the products an error names. Orders are named by their position
/// among all the orders placed (<c>#0</c>, <c>#1</c>, …), since the services' ids are random: the runner
/// maps each id the services return to the position the model gave that order.
/// </summary>
public sealed class ShopModel(CommerceOptions options, DateTimeOffset start)
{
    private readonly Dictionary<long, long> _balances = [];
    private readonly SortedDictionary<long, (string Name, long Price, int Stock)> _products = [];
    private readonly Dictionary<long, List<(long Product, int Quantity)>> _carts = [];
    private readonly List<PlacedOrder> _orders = [];
    private readonly List<(long Product, long Quantity, DateTimeOffset At, int Order)> _sales = [];
    private readonly Dictionary<long, List<string>> _ledgers = [];
    private readonly Dictionary<(long User, IdempotentOperation Operation, string Key), KeyRecord> _keys = [];
    private string? _keyUse;

    /// <summary>An order as placed, and when it was cancelled, if it was.</summary>
    private sealed record PlacedOrder(long User, IReadOnlyList<(long Product, int Quantity, long Price)> Lines, long Total, DateTimeOffset PlacedAt)
    {
        public DateTimeOffset? CancelledAt { get; set; }
    }

    /// <summary>
    /// The stored outcome of a keyed request: the request (so that another one under the key is told
    /// apart), when it ran, and the refusal or charge answer it gave, or the order it placed.
    /// </summary>
    private sealed record KeyRecord(string Request, DateTimeOffset At, string? Outcome, int? Order);

    /// <summary>The model's clock: the shop's start plus every <see cref="Advance"/>.</summary>
    public DateTimeOffset Now { get; private set; } = start;

    /// <summary>How many orders were placed so far (the next one is named <c>#OrderCount</c>).</summary>
    public int OrderCount => _orders.Count;

    public static string Ok(string what) => "ok " + what;

    /// <summary>A refusal: its code and, if it names any, the products in ascending order.</summary>
    public static string Error(CommerceErrorCode code, params IEnumerable<long> products) =>
        products.Order().ToList() is { Count: > 0 } ids ? F($"error {code} [{string.Join(",", ids)}]") : F($"error {code}");

    /// <summary>The name the model gives the order at <paramref name="index"/>.</summary>
    public static string OrderName(int index) => F($"#{index}");

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

    /// <summary>An order, named by <paramref name="name"/> (the model's name of the id).</summary>
    public static string Describe(Order order, Func<OrderId, string> name)
    {
        ArgumentNullException.ThrowIfNull(order);
        ArgumentNullException.ThrowIfNull(name);
        return OrderText(name(order.Id), order.UserId.Value, order.Lines.Select(l => OrderLine(l.ProductId.Value, l.Quantity, l.UnitPrice.Amount, l.LineTotal.Amount)), order.Total.Amount, order.PlacedAt, order.Status, order.CancelledAt);
    }

    public static string Describe(IEnumerable<Order> orders, Func<OrderId, string> name) => "[" + string.Join(" | ", orders.Select(o => Describe(o, name))) + "]";

    public static string Describe(LedgerEntry entry, Func<OrderId, string> name)
    {
        ArgumentNullException.ThrowIfNull(entry);
        ArgumentNullException.ThrowIfNull(name);
        return LedgerText(entry.UserId.Value, entry.Sequence, entry.Kind, entry.Amount.Amount, entry.BalanceAfter.Amount, entry.OrderId is { } id ? name(id) : "none", entry.At);
    }

    public static string Describe(IEnumerable<LedgerEntry> entries, Func<OrderId, string> name) => "[" + string.Join(" | ", entries.Select(e => Describe(e, name))) + "]";

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

    private static string OrderText(string id, long user, IEnumerable<string> lines, Int128 total, DateTimeOffset at, OrderStatus status, DateTimeOffset? cancelledAt) =>
        F($"order {id} u{user} [{string.Join("; ", lines)}] total={total} at={at:O} {status}{(cancelledAt is { } c ? F($" at={c:O}") : "")}");

    private static string LedgerText(long user, long sequence, LedgerEntryKind kind, long amount, long balanceAfter, string order, DateTimeOffset at) =>
        F($"u{user} #{sequence} {kind} {amount} -> {balanceAfter} order={order} at={at:O}");

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
        AppendLedger(user, LedgerEntryKind.Charge, amount, null);
        return Ok(F($"balance={balance + amount}"));
    }

    /// <summary>
    /// A charge under a key: the key is checked first, then the amount (refusals that need no state are not
    /// stored); a live record answers a repeat of its request with the stored answer and another request
    /// with <see cref="CommerceErrorCode.IdempotencyKeyReused"/>; otherwise the charge runs and its answer is stored.
    /// </summary>
    public string KeyedCharge(long user, long amount, string? key)
    {
        _keyUse = null;
        if (!IsValidKey(key))
        {
            return Error(CommerceErrorCode.InvalidIdempotencyKey);
        }

        if (amount <= 0)
        {
            return Error(CommerceErrorCode.InvalidAmount);
        }

        if (amount > options.MaxChargeAmount.Amount)
        {
            return Error(CommerceErrorCode.ChargeLimitExceeded);
        }

        var request = F($"{amount}");
        if (LiveRecord(user, IdempotentOperation.Charge, key) is { } record)
        {
            return Replay(record, request);
        }

        var outcome = Charge(user, amount);
        _keys[(user, IdempotentOperation.Charge, key)] = new KeyRecord(request, Now, outcome, null);
        return outcome;
    }

    /// <summary>A page of a user's ledger: the entries numbered above <paramref name="after"/>, at most <paramref name="limit"/>.</summary>
    public string Ledger(long user, long after, int limit)
    {
        var ledger = _ledgers.GetValueOrDefault(user) ?? [];
        return "[" + string.Join(" | ", ledger.Skip((int)Math.Min(after, ledger.Count)).Take(limit)) + "]";
    }

    /// <summary>Appends an entry to a user's ledger, with the balance as it is now.</summary>
    private void AppendLedger(long user, LedgerEntryKind kind, long amount, int? order)
    {
        if (!_ledgers.TryGetValue(user, out var ledger))
        {
            _ledgers[user] = ledger = [];
        }

        ledger.Add(LedgerText(user, ledger.Count + 1, kind, amount, Balance(user), order is { } index ? OrderName(index) : "none", Now));
    }

    // ---- idempotency keys -----------------------------------------------------------------------

    /// <summary>
    /// How the last keyed call used its key: "replayed" (a live record answered it), "after expiry" (a
    /// record was there but older than the retention, so the request ran again) or null (it ran, or was
    /// refused before the key was looked up). Reading it clears it.
    /// </summary>
    public string? TakeKeyUse()
    {
        var use = _keyUse;
        _keyUse = null;
        return use;
    }

    /// <summary>1 to 128 characters, each printable ASCII.</summary>
    public static bool IsValidKey([System.Diagnostics.CodeAnalysis.NotNullWhen(true)] string? key) =>
        !string.IsNullOrEmpty(key) && key.Length <= IdempotencyKey.MaxLength && key.All(c => c is >= ' ' and <= '~');

    /// <summary>The key's record if it is younger than the retention; an older one is forgotten.</summary>
    private KeyRecord? LiveRecord(long user, IdempotentOperation operation, string key)
    {
        if (!_keys.TryGetValue((user, operation, key), out var record))
        {
            return null;
        }

        if (Now - record.At < options.IdempotencyRetention)
        {
            return record;
        }

        _keys.Remove((user, operation, key));
        _keyUse = "after expiry";
        return null;
    }

    /// <summary>The stored answer for the same request (an order as it stands now), or a refusal of another request.</summary>
    private string Replay(KeyRecord record, string request)
    {
        if (record.Request != request)
        {
            return Error(CommerceErrorCode.IdempotencyKeyReused);
        }

        _keyUse = "replayed";
        return record.Order is { } index ? Ok(OrderText(index)) : record.Outcome!;
    }

    /// <summary>Runs a keyed order-placing use case and stores its outcome: the refusal, or the order it placed.</summary>
    private string RunAndStore(long user, IdempotentOperation operation, string key, string request, Func<string> useCase)
    {
        var count = _orders.Count;
        var outcome = useCase();
        var placed = _orders.Count > count;
        _keys[(user, operation, key)] = new KeyRecord(request, Now, placed ? null : outcome, placed ? count : null);
        return outcome;
    }

    // ---- catalog --------------------------------------------------------------------------------

    public string AddProduct(long id, string name, long price, int stock)
    {
        if (string.IsNullOrWhiteSpace(name) || name.Length > options.MaxProductNameLength || name.Any(char.IsControl))
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
        if (at < 0 && lines.Count >= options.MaxOrderLines)
        {
            return Error(CommerceErrorCode.TooManyLines);
        }

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

    /// <summary>Places an order: the checks that need no state, then those that do (see <see cref="Place"/>).</summary>
    public string PlaceOrder(long user, IReadOnlyList<(long Product, int Quantity)> requested) =>
        Validate(requested, out var merged) ?? Place(user, merged);

    /// <summary>
    /// Places an order under a key: the key is checked first, then the lines (refusals that need no state are
    /// not stored); a live record answers a repeat of its merged lines with the stored refusal or the order as
    /// it stands now, and other lines with <see cref="CommerceErrorCode.IdempotencyKeyReused"/>; otherwise the
    /// order is placed or refused and the outcome stored.
    /// </summary>
    public string KeyedOrder(long user, IReadOnlyList<(long Product, int Quantity)> requested, string? key)
    {
        _keyUse = null;
        if (!IsValidKey(key))
        {
            return Error(CommerceErrorCode.InvalidIdempotencyKey);
        }

        if (Validate(requested, out var merged) is { } refusal)
        {
            return refusal;
        }

        // The request is the merged lines, in the order of their first appearance.
        var request = string.Join(",", merged.Select(l => F($"{l.Quantity}×P{l.Product}")));
        return LiveRecord(user, IdempotentOperation.PlaceOrder, key) is { } record
            ? Replay(record, request)
            : RunAndStore(user, IdempotentOperation.PlaceOrder, key, request, () => Place(user, merged));
    }

    /// <summary>
    /// Places an order of the cart's lines, with the same checks as <see cref="PlaceOrder"/>; an empty or
    /// absent cart is <see cref="CommerceErrorCode.EmptyOrder"/>. The cart is emptied only if the order is placed.
    /// </summary>
    public string Checkout(long user)
    {
        var cart = _carts.GetValueOrDefault(user) ?? [];
        var count = _orders.Count;
        var outcome = PlaceOrder(user, cart);
        if (_orders.Count > count)
        {
            _carts[user] = [];
        }

        return outcome;
    }

    /// <summary>A checkout under a key: every outcome is stored (all depend on the cart), and any repeat within the retention replays it.</summary>
    public string KeyedCheckout(long user, string? key)
    {
        _keyUse = null;
        if (!IsValidKey(key))
        {
            return Error(CommerceErrorCode.InvalidIdempotencyKey);
        }

        return LiveRecord(user, IdempotentOperation.Checkout, key) is { } record
            ? Replay(record, "")
            : RunAndStore(user, IdempotentOperation.Checkout, key, "", () => Checkout(user));
    }

    /// <summary>
    /// The checks that need no state: lines of one product merge into one (at the first one's position);
    /// every quantity, and every merged one, must be in range; then the number of products.
    /// </summary>
    /// <returns>The refusal, or null with the merged lines.</returns>
    private string? Validate(IReadOnlyList<(long Product, int Quantity)> requested, out List<(long Product, long Quantity)> merged)
    {
        ArgumentNullException.ThrowIfNull(requested);
        merged = [];
        if (requested.Count == 0)
        {
            return Error(CommerceErrorCode.EmptyOrder);
        }

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

        return null;
    }

    /// <summary>
    /// The checks that read state, in the documented order (unknown products, all named; overflow; balance;
    /// stock, naming every short product), then the payment (with its ledger entry, also of a zero total),
    /// the stock deductions, the order and its sales.
    /// </summary>
    private string Place(long user, List<(long Product, long Quantity)> merged)
    {
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

        var index = _orders.Count;
        _balances[user] = Balance(user) - (long)total;
        AppendLedger(user, LedgerEntryKind.Payment, (long)total, index);
        var lines = new List<(long Product, int Quantity, long Price)>();
        foreach (var (product, quantity) in merged)
        {
            var p = _products[product];
            _products[product] = p with { Stock = p.Stock - (int)quantity };
            _sales.Add((product, quantity, Now, index));
            lines.Add((product, (int)quantity, p.Price));
        }

        _orders.Add(new PlacedOrder(user, lines, (long)total, Now));
        return Ok(OrderText(index));
    }

    /// <summary>
    /// Cancels the order at <paramref name="index"/> (one past the known orders is an id never issued):
    /// refuses an unknown or cancelled order, a refund above the maximum balance, or a restock past
    /// <see cref="int.MaxValue"/> (naming the first such product); else refunds a positive total (with a
    /// ledger entry), restocks every line, takes its units out of the ranking and marks it cancelled now.
    /// </summary>
    public string CancelOrder(int index)
    {
        if (index < 0 || index >= _orders.Count)
        {
            return Error(CommerceErrorCode.OrderNotFound);
        }

        var order = _orders[index];
        if (order.CancelledAt is not null)
        {
            return Error(CommerceErrorCode.OrderAlreadyCancelled);
        }

        if (order.Total > 0 && (Int128)Balance(order.User) + order.Total > options.MaxBalance.Amount)
        {
            return Error(CommerceErrorCode.BalanceLimitExceeded);
        }

        foreach (var line in order.Lines)
        {
            if ((long)_products[line.Product].Stock + line.Quantity > int.MaxValue)
            {
                return Error(CommerceErrorCode.InvalidQuantity, line.Product);
            }
        }

        if (order.Total > 0)
        {
            _balances[order.User] = Balance(order.User) + order.Total;
            AppendLedger(order.User, LedgerEntryKind.Refund, order.Total, index);
        }

        foreach (var line in order.Lines)
        {
            var p = _products[line.Product];
            _products[line.Product] = p with { Stock = p.Stock + line.Quantity };
        }

        _sales.RemoveAll(s => s.Order == index);
        order.CancelledAt = Now;
        return Ok(OrderText(index));
    }

    /// <summary>The order at <paramref name="index"/> as it stands; one past the known orders is an id never issued.</summary>
    public string GetOrder(int index) => index >= 0 && index < _orders.Count ? Ok(OrderText(index)) : Error(CommerceErrorCode.OrderNotFound);

    /// <summary>A user's newest <paramref name="limit"/> orders, newest first, cancelled ones included.</summary>
    public string ListOrders(long user, int limit) =>
        "[" + string.Join(" | ", Enumerable.Range(0, _orders.Count).Reverse().Where(i => _orders[i].User == user).Take(limit).Select(OrderText)) + "]";

    private string OrderText(int index)
    {
        var order = _orders[index];
        return OrderText(
            OrderName(index),
            order.User,
            order.Lines.Select(l => OrderLine(l.Product, l.Quantity, l.Price, (Int128)l.Price * l.Quantity)),
            order.Total,
            order.PlacedAt,
            order.CancelledAt is null ? OrderStatus.Placed : OrderStatus.Cancelled,
            order.CancelledAt);
    }

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
