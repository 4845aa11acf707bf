using System.Runtime.CompilerServices;

namespace Commerce.Conformance.Linearizability;

/// <summary>
/// Small random concurrent workloads on two wallets, two products, the wallets' carts and two orders placed
/// beforehand, recorded as histories.
/// </summary>
internal static class Workload
{
    /// <summary>After the setup: balances, stock, and the units of the two orders placed beforehand.</summary>
    public static readonly SpecState Initial = new(30, 30, 3, 3, Sold0: 1, Sold1: 1);

    private static long s_clock;

    /// <summary>The ids of the orders each shop of <see cref="NewShop"/> starts with (order i: wallet i bought one unit of product i).</summary>
    private static readonly ConditionalWeakTable<Shop, OrderId[]> s_orders = [];

    public static void Limits(CommerceOptions options)
    {
        options.MaxBalance = new Money(SpecState.MaxBalance);
        options.MaxChargeAmount = new Money(SpecState.MaxCharge);
    }

    /// <summary>A shop in the <see cref="Initial"/> state: each wallet has bought one unit of its product.</summary>
    /// <param name="create">Creates an empty shop on the store under test with the options <see cref="Limits"/> sets.</param>
    public static Shop NewShop(Func<Action<CommerceOptions>, Shop> create)
    {
        ArgumentNullException.ThrowIfNull(create);
        var shop = create(Limits);
        var orders = new OrderId[2];
        for (var i = 0; i < 2; i++)
        {
            Assert.True(RealThreads.Wait(shop.Catalog.AddProductAsync(ProductOf(i), "P" + i, new Money(SpecState.Prices[i]), Initial.Stock(i) + 1)).IsSuccess);
            Assert.True(RealThreads.Wait(shop.Wallets.ChargeAsync(UserOf(i), new Money(Initial.Balance(i) + SpecState.Prices[i]))).IsSuccess);
            var placed = RealThreads.Wait(shop.Orders.PlaceOrderAsync(UserOf(i), [new OrderLineRequest(ProductOf(i), 1)]));
            Assert.True(placed.IsSuccess, placed.ToString());
            orders[i] = placed.Value.Id;
        }

        s_orders.Add(shop, orders);
        return shop;
    }

    public static UserId UserOf(int wallet) => new(wallet + 1);

    public static ProductId ProductOf(int product) => new(product + 1);

    /// <summary>2–3 threads of 3–5 operations each, from a seed.</summary>
    public static Operation[][] Generate(int seed)
    {
        var random = new Random(seed);
        var threads = new Operation[random.Next(2, 4)][];
        for (var t = 0; t < threads.Length; t++)
        {
            threads[t] = new Operation[random.Next(3, 6)];
            for (var i = 0; i < threads[t].Length; i++)
            {
                threads[t][i] = Next(random, t);
            }
        }

        return threads;
    }

    private static Operation Next(Random random, int thread)
    {
        var wallet = random.Next(2);
        var product = random.Next(2);
        switch (random.Next(22))
        {
            case < 3:
                return new Operation(thread, OpKind.Charge, wallet, product, random.Next(3) == 0 ? random.Next(30, 51) : random.Next(1, 15), 0);
            case < 6:
                // Mostly the amount that goes with the key, so that calls repeat their request; sometimes another.
                var key = random.Next(2);
                var amount = random.Next(4) == 0 ? random.Next(1, 51) : key == 0 ? 5 : 40;
                return new Operation(thread, OpKind.KeyedCharge, wallet, product, amount, 0, Key: key);
            case 6:
                return new Operation(thread, OpKind.GetBalance, wallet, product, 0, 0);
            case < 10:
                var first = random.Next(3);
                return new Operation(thread, OpKind.PlaceOrder, wallet, product, first, first == 0 ? random.Next(1, 3) : random.Next(3));
            case < 12:
                return new Operation(thread, OpKind.CancelOrder, wallet, product, 0, 0, Order: random.Next(5) == 0 ? 2 : random.Next(2));
            case < 14:
                return new Operation(thread, OpKind.AddCartItem, wallet, product, random.Next(1, 3), 0);
            case < 16:
                return new Operation(thread, OpKind.Checkout, wallet, product, 0, 0);
            case < 18:
                return new Operation(thread, OpKind.Restock, wallet, product, random.Next(1, 3), 0);
            case 18:
                return new Operation(thread, OpKind.GetStock, wallet, product, 0, 0);
            case 19:
                return new Operation(thread, OpKind.GetRanking, wallet, product, 0, 0);
            default:
                // A lookup of an order placed beforehand (or, now and then, of an id never issued), while other
                // threads place and cancel orders.
                return new Operation(thread, OpKind.GetOrder, wallet, product, 0, 0, Order: random.Next(5) == 0 ? 2 : random.Next(2));
        }
    }

    /// <summary>Runs each thread's operations on its own thread, all released together, recording the history.</summary>
    public static void Run(Shop shop, Operation[][] threads, Func<int, string>? name = null)
    {
        // Released by spinning on a shared counter rather than by waking blocked threads, so that the
        // threads really start together and their operations overlap.
        var ready = 0;
        var errors = new Exception?[threads.Length];
        var workers = threads.Select((ops, t) => new Thread(() =>
        {
            try
            {
                Interlocked.Increment(ref ready);
                var spin = default(SpinWait);
                while (Volatile.Read(ref ready) < threads.Length)
                {
                    spin.SpinOnce(sleep1Threshold: -1);
                }

                foreach (var op in ops)
                {
                    op.Invoked = Interlocked.Increment(ref s_clock);
                    op.Result = Execute(shop, op);
                    op.Returned = Interlocked.Increment(ref s_clock);
                }
            }
            catch (Exception e)
            {
                errors[t] = e;
            }
        }) { IsBackground = true, Name = name?.Invoke(t) }).ToList();
        workers.ForEach(w => w.Start());
        Assert.All(workers, w => Assert.True(w.Join(PausedCommitGuard), "A worker did not finish."));
        Assert.All(errors, e => Assert.Null(e));
    }

    /// <summary>Runs the threads' operations on the calling thread, one of each thread's in turn, recording the history.</summary>
    public static void RunInTurn(Shop shop, Operation[][] threads)
    {
        for (var i = 0; i < threads.Max(t => t.Length); i++)
        {
            foreach (var op in threads.Where(t => i < t.Length).Select(t => t[i]))
            {
                op.Invoked = Interlocked.Increment(ref s_clock);
                op.Result = Execute(shop, op);
                op.Returned = Interlocked.Increment(ref s_clock);
            }
        }
    }

    private static readonly TimeSpan PausedCommitGuard = TimeSpan.FromSeconds(60);

    private static string Outcome<T>(Result<T> result, Func<T, string> ok) => result.IsSuccess ? "ok " + ok(result.Value) : "error " + result.Error.Code;

    private static string Execute(Shop shop, Operation op) => op.Kind switch
    {
        OpKind.Charge => Outcome(RealThreads.Wait(shop.Wallets.ChargeAsync(UserOf(op.Wallet), new Money(op.Amount))), b => b.ToString()),
        OpKind.KeyedCharge => Outcome(RealThreads.Wait(shop.Wallets.ChargeAsync(UserOf(op.Wallet), new Money(op.Amount), new IdempotencyKey("k" + op.Key))), b => b.ToString()),
        OpKind.GetBalance => RealThreads.Wait(shop.Wallets.GetBalanceAsync(UserOf(op.Wallet))).ToString(),
        OpKind.PlaceOrder => Outcome(
            RealThreads.Wait(shop.Orders.PlaceOrderAsync(UserOf(op.Wallet), Lines(op))),
            o => "total=" + o.Total),
        OpKind.CancelOrder => Outcome(RealThreads.Wait(shop.Orders.CancelOrderAsync(OrderOf(shop, op.Order))), o => $"{o.Status.ToString().ToLowerInvariant()} total={o.Total}"),
        OpKind.AddCartItem => Outcome(RealThreads.Wait(shop.Carts.AddItemAsync(UserOf(op.Wallet), ProductOf(op.Product), op.Amount)), CartText),
        OpKind.Checkout => Outcome(RealThreads.Wait(shop.Carts.CheckoutAsync(UserOf(op.Wallet))), o => "total=" + o.Total),
        OpKind.GetOrder => Outcome(RealThreads.Wait(shop.Orders.GetOrderAsync(OrderOf(shop, op.Order))), o => o.Status.ToString().ToLowerInvariant()),
        OpKind.Restock => Outcome(RealThreads.Wait(shop.Catalog.RestockAsync(ProductOf(op.Product), op.Amount)), p => p.Stock.ToString(System.Globalization.CultureInfo.InvariantCulture)),
        OpKind.GetStock => RealThreads.Wait(shop.Catalog.GetProductAsync(ProductOf(op.Product))).Value.Stock.ToString(System.Globalization.CultureInfo.InvariantCulture),
        _ => string.Join(",", RealThreads.Wait(shop.Ranking.GetPopularProductsAsync()).Select(p => $"p{p.ProductId.Value - 1}={p.QuantitySold}")),
    };

    /// <summary>One of the orders the shop started with, or (for 2) an id never issued.</summary>
    private static OrderId OrderOf(Shop shop, int order) =>
        order < 2 && s_orders.TryGetValue(shop, out var orders) ? orders[order] : new OrderId(new Guid(0x0bad, 0, 0, new byte[8]));

    private static string CartText(CartView cart) =>
        SpecState.Cart(
            cart.Lines.Where(l => l.ProductId == ProductOf(0)).Sum(l => l.Quantity),
            cart.Lines.Where(l => l.ProductId == ProductOf(1)).Sum(l => l.Quantity));

    private static OrderLineRequest[] Lines(Operation op)
    {
        var lines = new List<OrderLineRequest>();
        if (op.Amount > 0)
        {
            lines.Add(new OrderLineRequest(ProductOf(0), op.Amount));
        }

        if (op.SecondQuantity > 0)
        {
            lines.Add(new OrderLineRequest(ProductOf(1), op.SecondQuantity));
        }

        return [.. lines];
    }

    public static string Describe(Operation[][] threads) =>
        string.Join("\n", threads.SelectMany(t => t).OrderBy(o => o.Invoked).Select(o => "  " + o));
}
