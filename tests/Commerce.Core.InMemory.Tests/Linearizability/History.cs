using System.Globalization;

namespace Commerce.InMemory.Tests.Linearizability;

internal enum OpKind { Charge, GetBalance, PlaceOrder, Restock, GetStock, GetRanking }

/// <summary>
/// One call in a concurrent history: what was asked (<see cref="Wallet"/> or <see cref="Product"/> is an
/// index 0 or 1), when it was invoked and when it returned on the logical clock, and what it answered.
/// </summary>
internal sealed record Operation(int Thread, OpKind Kind, int Wallet, int Product, int Amount, int SecondQuantity)
{
    public long Invoked { get; set; }

    public long Returned { get; set; }

    public string Result { get; set; } = "";

    public override string ToString() => Kind switch
    {
        OpKind.Charge => $"t{Thread} [{Invoked},{Returned}] Charge(w{Wallet}, {Amount}) -> {Result}",
        OpKind.GetBalance => $"t{Thread} [{Invoked},{Returned}] GetBalance(w{Wallet}) -> {Result}",
        OpKind.PlaceOrder => $"t{Thread} [{Invoked},{Returned}] PlaceOrder(w{Wallet}, {Amount}×p0 + {SecondQuantity}×p1) -> {Result}",
        OpKind.Restock => $"t{Thread} [{Invoked},{Returned}] Restock(p{Product}, {Amount}) -> {Result}",
        OpKind.GetStock => $"t{Thread} [{Invoked},{Returned}] GetStock(p{Product}) -> {Result}",
        _ => $"t{Thread} [{Invoked},{Returned}] GetRanking() -> {Result}",
    };
}

/// <summary>The sequential specification of the operations above: two wallets, two products with fixed prices.</summary>
internal readonly record struct SpecState(long Balance0, long Balance1, int Stock0, int Stock1, int Sold0 = 0, int Sold1 = 0)
{
    public const long MaxBalance = 100;
    public const long MaxCharge = 50;
    public static readonly long[] Prices = [10, 7];

    /// <summary>Products with sales, most sold first, ties by lower id: "p0=2,p1=1".</summary>
    public static string Ranking(long sold0, long sold1) =>
        string.Join(",", new[] { (Product: 0, Sold: sold0), (Product: 1, Sold: sold1) }
            .Where(x => x.Sold > 0)
            .OrderByDescending(x => x.Sold)
            .ThenBy(x => x.Product)
            .Select(x => string.Create(CultureInfo.InvariantCulture, $"p{x.Product}={x.Sold}")));

    public long Balance(int wallet) => wallet == 0 ? Balance0 : Balance1;

    public int Stock(int product) => product == 0 ? Stock0 : Stock1;

    private SpecState WithBalance(int wallet, long value) => wallet == 0 ? this with { Balance0 = value } : this with { Balance1 = value };

    private SpecState WithStock(int product, int value) => product == 0 ? this with { Stock0 = value } : this with { Stock1 = value };

    /// <summary>The answer the operation gives in this state, and the state after it.</summary>
    public (string Result, SpecState Next) Apply(Operation op)
    {
        static string S(long v) => v.ToString(CultureInfo.InvariantCulture);
        switch (op.Kind)
        {
            case OpKind.Charge:
                var charged = Balance(op.Wallet) + op.Amount;
                return charged > MaxBalance
                    ? ("error BalanceLimitExceeded", this)
                    : ("ok " + S(charged), WithBalance(op.Wallet, charged));
            case OpKind.GetBalance:
                return (S(Balance(op.Wallet)), this);
            case OpKind.PlaceOrder:
                var total = (op.Amount * Prices[0]) + (op.SecondQuantity * Prices[1]);
                if (Balance(op.Wallet) < total)
                {
                    return ("error InsufficientBalance", this);
                }

                if (Stock(0) < op.Amount || Stock(1) < op.SecondQuantity)
                {
                    return ("error InsufficientStock", this);
                }

                var paid = WithBalance(op.Wallet, Balance(op.Wallet) - total).WithStock(0, Stock(0) - op.Amount).WithStock(1, Stock(1) - op.SecondQuantity);
                return ("ok total=" + S(total), paid with { Sold0 = Sold0 + op.Amount, Sold1 = Sold1 + op.SecondQuantity });
            case OpKind.Restock:
                var restocked = Stock(op.Product) + op.Amount;
                return ("ok " + S(restocked), WithStock(op.Product, restocked));
            case OpKind.GetStock:
                return (S(Stock(op.Product)), this);
            default:
                return (Ranking(Sold0, Sold1), this);
        }
    }
}
