using System.Globalization;

namespace Commerce.Conformance.Linearizability;

internal enum OpKind { Charge, GetBalance, PlaceOrder, Restock, GetStock, GetRanking, KeyedCharge, CancelOrder, AddCartItem, Checkout, GetOrder }

/// <summary>
/// One call in a concurrent history: what was asked (<see cref="Wallet"/> or <see cref="Product"/> is an
/// index 0 or 1; <see cref="Key"/> is a keyed charge's key, 0 or 1; <see cref="Order"/> is the order a
/// cancel or a lookup names: 0 or 1 for the orders the workload's shop starts with, 2 for an id never issued), when it
/// was invoked and when it returned on the logical clock, and what it answered.
/// </summary>
internal sealed record Operation(int Thread, OpKind Kind, int Wallet, int Product, int Amount, int SecondQuantity, int Key = 0, int Order = 0)
{
    public long Invoked { get; set; }

    public long Returned { get; set; }

    public string Result { get; set; } = "";

    public override string ToString() => Kind switch
    {
        OpKind.Charge => $"t{Thread} [{Invoked},{Returned}] Charge(w{Wallet}, {Amount}) -> {Result}",
        OpKind.KeyedCharge => $"t{Thread} [{Invoked},{Returned}] Charge(w{Wallet}, {Amount}, key k{Key}) -> {Result}",
        OpKind.GetBalance => $"t{Thread} [{Invoked},{Returned}] GetBalance(w{Wallet}) -> {Result}",
        OpKind.PlaceOrder => $"t{Thread} [{Invoked},{Returned}] PlaceOrder(w{Wallet}, {Amount}×p0 + {SecondQuantity}×p1) -> {Result}",
        OpKind.CancelOrder => $"t{Thread} [{Invoked},{Returned}] CancelOrder(o{Order}) -> {Result}",
        OpKind.GetOrder => $"t{Thread} [{Invoked},{Returned}] GetOrder(o{Order}) -> {Result}",
        OpKind.AddCartItem => $"t{Thread} [{Invoked},{Returned}] AddCartItem(w{Wallet}, p{Product}, {Amount}) -> {Result}",
        OpKind.Checkout => $"t{Thread} [{Invoked},{Returned}] Checkout(w{Wallet}) -> {Result}",
        OpKind.Restock => $"t{Thread} [{Invoked},{Returned}] Restock(p{Product}, {Amount}) -> {Result}",
        OpKind.GetStock => $"t{Thread} [{Invoked},{Returned}] GetStock(p{Product}) -> {Result}",
        _ => $"t{Thread} [{Invoked},{Returned}] GetRanking() -> {Result}",
    };
}

/// <summary>The stored outcome of a keyed charge: the amount it was for (0 while the key is unused) and its answer.</summary>
internal readonly record struct KeyRecord(int Amount, string Outcome);

/// <summary>
/// The sequential specification of the operations above: two wallets, two products with fixed prices,
/// each wallet's cart, two keys per wallet for keyed charges, and two orders placed before the history
/// (order i: wallet i bought one unit of product i), each either standing or cancelled.
/// </summary>
internal readonly record struct SpecState(long Balance0, long Balance1, int Stock0, int Stock1, int Sold0 = 0, int Sold1 = 0)
{
    public const long MaxBalance = 100;
    public const long MaxCharge = 50;
    public static readonly long[] Prices = [10, 7];

    /// <summary>Units of each product in each wallet's cart.</summary>
    public int Cart0P0 { get; init; }

    public int Cart0P1 { get; init; }

    public int Cart1P0 { get; init; }

    public int Cart1P1 { get; init; }

    /// <summary>The records of keys k0 and k1 of each wallet.</summary>
    public KeyRecord Key0K0 { get; init; }

    public KeyRecord Key0K1 { get; init; }

    public KeyRecord Key1K0 { get; init; }

    public KeyRecord Key1K1 { get; init; }

    /// <summary>Whether each of the two orders placed before the history was cancelled.</summary>
    public bool Cancelled0 { get; init; }

    public bool Cancelled1 { get; init; }

    /// <summary>Products with sales, most sold first, ties by lower id: "p0=2,p1=1".</summary>
    public static string Ranking(long sold0, long sold1) =>
        string.Join(",", new[] { (Product: 0, Sold: sold0), (Product: 1, Sold: sold1) }
            .Where(x => x.Sold > 0)
            .OrderByDescending(x => x.Sold)
            .ThenBy(x => x.Product)
            .Select(x => string.Create(CultureInfo.InvariantCulture, $"p{x.Product}={x.Sold}")));

    /// <summary>A cart as the workload describes it: the units of p0, then of p1.</summary>
    public static string Cart(int p0, int p1) => string.Create(CultureInfo.InvariantCulture, $"cart {p0},{p1}");

    public long Balance(int wallet) => wallet == 0 ? Balance0 : Balance1;

    public int Stock(int product) => product == 0 ? Stock0 : Stock1;

    public int CartUnits(int wallet, int product) => (wallet, product) switch
    {
        (0, 0) => Cart0P0,
        (0, _) => Cart0P1,
        (_, 0) => Cart1P0,
        _ => Cart1P1,
    };

    public KeyRecord KeyOf(int wallet, int key) => (wallet, key) switch
    {
        (0, 0) => Key0K0,
        (0, _) => Key0K1,
        (_, 0) => Key1K0,
        _ => Key1K1,
    };

    public bool Cancelled(int order) => order == 0 ? Cancelled0 : Cancelled1;

    private SpecState WithBalance(int wallet, long value) => wallet == 0 ? this with { Balance0 = value } : this with { Balance1 = value };

    private SpecState WithStock(int product, int value) => product == 0 ? this with { Stock0 = value } : this with { Stock1 = value };

    private SpecState WithSold(int product, int value) => product == 0 ? this with { Sold0 = value } : this with { Sold1 = value };

    private SpecState WithCart(int wallet, int p0, int p1) =>
        wallet == 0 ? this with { Cart0P0 = p0, Cart0P1 = p1 } : this with { Cart1P0 = p0, Cart1P1 = p1 };

    private SpecState WithKey(int wallet, int key, KeyRecord record) => (wallet, key) switch
    {
        (0, 0) => this with { Key0K0 = record },
        (0, _) => this with { Key0K1 = record },
        (_, 0) => this with { Key1K0 = record },
        _ => this with { Key1K1 = record },
    };

    private SpecState WithCancelled(int order) => order == 0 ? this with { Cancelled0 = true } : this with { Cancelled1 = true };

    private static string S(long v) => v.ToString(CultureInfo.InvariantCulture);

    /// <summary>The answer the operation gives in this state, and the state after it.</summary>
    public (string Result, SpecState Next) Apply(Operation op)
    {
        switch (op.Kind)
        {
            case OpKind.Charge:
                return Charge(op.Wallet, op.Amount);
            case OpKind.KeyedCharge:
                // The first call with a key runs and stores its answer; a repeat of the amount replays it.
                var record = KeyOf(op.Wallet, op.Key);
                if (record.Amount == 0)
                {
                    var (outcome, charged) = Charge(op.Wallet, op.Amount);
                    return (outcome, charged.WithKey(op.Wallet, op.Key, new KeyRecord(op.Amount, outcome)));
                }

                return (record.Amount == op.Amount ? record.Outcome : "error IdempotencyKeyReused", this);
            case OpKind.GetBalance:
                return (S(Balance(op.Wallet)), this);
            case OpKind.PlaceOrder:
                return Place(op.Wallet, op.Amount, op.SecondQuantity);
            case OpKind.CancelOrder:
                // Order i was wallet i's purchase of one unit of product i.
                if (op.Order > 1)
                {
                    return ("error OrderNotFound", this);
                }

                if (Cancelled(op.Order))
                {
                    return ("error OrderAlreadyCancelled", this);
                }

                var refunded = Balance(op.Order) + Prices[op.Order];
                if (refunded > MaxBalance)
                {
                    return ("error BalanceLimitExceeded", this);
                }

                var cancelled = WithBalance(op.Order, refunded).WithStock(op.Order, Stock(op.Order) + 1).WithCancelled(op.Order);
                return ("ok cancelled total=" + S(Prices[op.Order]), cancelled.WithSold(op.Order, (op.Order == 0 ? Sold0 : Sold1) - 1));
            case OpKind.GetOrder:
                return (op.Order > 1 ? "error OrderNotFound" : Cancelled(op.Order) ? "ok cancelled" : "ok placed", this);
            case OpKind.AddCartItem:
                var p0 = CartUnits(op.Wallet, 0) + (op.Product == 0 ? op.Amount : 0);
                var p1 = CartUnits(op.Wallet, 1) + (op.Product == 1 ? op.Amount : 0);
                return ("ok " + Cart(p0, p1), WithCart(op.Wallet, p0, p1));
            case OpKind.Checkout:
                // The cart's lines placed as an order; the cart is emptied only if it is placed.
                var (c0, c1) = (CartUnits(op.Wallet, 0), CartUnits(op.Wallet, 1));
                if (c0 == 0 && c1 == 0)
                {
                    return ("error EmptyOrder", this);
                }

                var (placed, after) = Place(op.Wallet, c0, c1);
                return (placed, placed.StartsWith("ok", StringComparison.Ordinal) ? after.WithCart(op.Wallet, 0, 0) : after);
            case OpKind.Restock:
                var restocked = Stock(op.Product) + op.Amount;
                return ("ok " + S(restocked), WithStock(op.Product, restocked));
            case OpKind.GetStock:
                return (S(Stock(op.Product)), this);
            default:
                return (Ranking(Sold0, Sold1), this);
        }
    }

    private (string Result, SpecState Next) Charge(int wallet, long amount)
    {
        var charged = Balance(wallet) + amount;
        return charged > MaxBalance
            ? ("error BalanceLimitExceeded", this)
            : ("ok " + S(charged), WithBalance(wallet, charged));
    }

    private (string Result, SpecState Next) Place(int wallet, int first, int second)
    {
        var total = (first * Prices[0]) + (second * Prices[1]);
        if (Balance(wallet) < total)
        {
            return ("error InsufficientBalance", this);
        }

        if (Stock(0) < first || Stock(1) < second)
        {
            return ("error InsufficientStock", this);
        }

        var paid = WithBalance(wallet, Balance(wallet) - total).WithStock(0, Stock(0) - first).WithStock(1, Stock(1) - second);
        return ("ok total=" + S(total), paid with { Sold0 = Sold0 + first, Sold1 = Sold1 + second });
    }
}
