using Commerce.Conformance;
using Commerce.InMemory.Tests.Support;

namespace Commerce.InMemory.Tests.Linearizability;

/// <summary>Small random concurrent workloads on two wallets and two products, recorded as histories.</summary>
internal static class Workload
{
    public static readonly SpecState Initial = new(30, 30, 3, 3);

    private static long s_clock;

    public static void Limits(CommerceOptions options)
    {
        options.MaxBalance = new Money(SpecState.MaxBalance);
        options.MaxChargeAmount = new Money(SpecState.MaxCharge);
    }

    /// <summary>A shop in the <see cref="Initial"/> state.</summary>
    public static Shop NewShop(Func<InMemoryCommerceStore, Commerce.Storage.ICommerceStore>? wrap = null)
    {
        var shop = InMemoryShop.Create(Limits, wrap);
        for (var i = 0; i < 2; i++)
        {
            Assert.True(Sync.Run(shop.Catalog.AddProductAsync(ProductOf(i), "P" + i, new Money(SpecState.Prices[i]), Initial.Stock(i))).IsSuccess);
            Assert.True(Sync.Run(shop.Wallets.ChargeAsync(UserOf(i), new Money(Initial.Balance(i)))).IsSuccess);
        }

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
        switch (random.Next(12))
        {
            case < 3:
                return new Operation(thread, OpKind.Charge, wallet, product, random.Next(3) == 0 ? random.Next(30, 51) : random.Next(1, 15), 0);
            case 3:
                return new Operation(thread, OpKind.GetBalance, wallet, product, 0, 0);
            case < 7:
                var first = random.Next(3);
                return new Operation(thread, OpKind.PlaceOrder, wallet, product, first, first == 0 ? random.Next(1, 3) : random.Next(3));
            case < 9:
                return new Operation(thread, OpKind.Restock, wallet, product, random.Next(1, 3), 0);
            case 9:
                return new Operation(thread, OpKind.GetStock, wallet, product, 0, 0);
            default:
                return new Operation(thread, OpKind.GetRanking, wallet, product, 0, 0);
        }
    }

    /// <summary>Runs each thread's operations on its own thread, all released together, recording the history.</summary>
    public static void Run(Shop shop, Operation[][] threads, Func<int, string>? name = null)
    {
        // Released by spinning on a shared counter rather than by waking blocked threads, so that the
        // threads really start together and their operations overlap.
        var ready = 0;

        // Widen the windows in which operations overlap: a short busy pause after each descriptor install
        // (never a sleep; it only changes the interleavings that occur).
        shop.InMemoryStore().AfterInstall = static (_, _) => Thread.SpinWait(Random.Shared.Next(20_000));
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

    private static readonly TimeSpan PausedCommitGuard = TimeSpan.FromSeconds(60);

    private static string Outcome<T>(Result<T> result, Func<T, string> ok) => result.IsSuccess ? "ok " + ok(result.Value) : "error " + result.Error.Code;

    private static string Execute(Shop shop, Operation op) => op.Kind switch
    {
        OpKind.Charge => Outcome(Sync.Run(shop.Wallets.ChargeAsync(UserOf(op.Wallet), new Money(op.Amount))), b => b.ToString()),
        OpKind.GetBalance => Sync.Run(shop.Wallets.GetBalanceAsync(UserOf(op.Wallet))).ToString(),
        OpKind.PlaceOrder => Outcome(
            Sync.Run(shop.Orders.PlaceOrderAsync(UserOf(op.Wallet), Lines(op))),
            o => "total=" + o.Total),
        OpKind.Restock => Outcome(Sync.Run(shop.Catalog.RestockAsync(ProductOf(op.Product), op.Amount)), p => p.Stock.ToString(System.Globalization.CultureInfo.InvariantCulture)),
        OpKind.GetStock => Sync.Run(shop.Catalog.GetProductAsync(ProductOf(op.Product))).Value.Stock.ToString(System.Globalization.CultureInfo.InvariantCulture),
        _ => string.Join(",", Sync.Run(shop.Ranking.GetPopularProductsAsync()).Select(p => $"p{p.ProductId.Value - 1}={p.QuantitySold}")),
    };

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
