using System.Globalization;
using FsCheck;
using FsCheck.Fluent;
using Microsoft.FSharp.Core;

namespace Commerce.Conformance;

/// <summary>
/// Properties over random sequences of charges, orders, cancels, cart changes and checkouts (some keyed,
/// with a small pool of keys so that keys repeat, collide and expire): the ledger always adds up to the
/// balance, and repeating a keyed request changes nothing and answers the same.
/// </summary>
public abstract class LedgerPropertyConformanceTests : CommerceConformanceTests
{
    /// <summary>The generator's seed: every run checks the same sequences, so a failure reproduces.</summary>
    private static readonly Rnd Seed = new(20261203, 6364136223846793005);

    private const int Users = 3;

    /// <summary>How many random sequences each property runs, each on a fresh shop.</summary>
    protected virtual int Cases => 25;

    /// <summary>The longest sequence (the generator's size grows to it over the cases).</summary>
    protected virtual int MaxSteps => 25;

    /// <summary>Limits small enough that random steps reach refusals (balance, stock, charge limits).</summary>
    private static void Limits(CommerceOptions options)
    {
        options.MaxChargeAmount = new Money(500);
        options.MaxBalance = new Money(800);
        options.MaxLineQuantity = 6;
        options.MaxOrderLines = 3;
        options.IdempotencyRetention = TimeSpan.FromMinutes(10);
    }

    /// <summary>Three products: a free one, a cheap one and a dear one, with little stock.</summary>
    private static async Task StockAsync(Shop shop)
    {
        await shop.AddProductAsync(1, 0, 4, "Free");
        await shop.AddProductAsync(2, 7, 8, "Cheap");
        await shop.AddProductAsync(3, 120, 2, "Dear");
    }

    /// <summary>One step of a random sequence.</summary>
    public abstract record Step
    {
        /// <summary>A charge, keyed if <paramref name="Key"/> is not null.</summary>
        public sealed record Charge(long User, long Amount, string? Key) : Step;

        /// <summary>An order, keyed if <paramref name="Key"/> is not null.</summary>
        public sealed record Order(long User, (long Product, int Quantity)[] Lines, string? Key) : Step
        {
            public override string ToString() =>
                $"Order {{ User = {User}, Lines = [{string.Join(", ", Lines.Select(l => $"{l.Product}x{l.Quantity}"))}], Key = {Key} }}";
        }

        /// <summary>Cancels the order placed <paramref name="Index"/>-th (modulo the number placed so far).</summary>
        public sealed record Cancel(int Index) : Step;

        /// <summary>Puts a product in a cart.</summary>
        public sealed record AddToCart(long User, long Product, int Quantity) : Step;

        /// <summary>A checkout, keyed if <paramref name="Key"/> is not null.</summary>
        public sealed record Checkout(long User, string? Key) : Step;

        /// <summary>Moves the fake clock (past the retention sometimes, so keys expire and purges run).</summary>
        public sealed record Advance(TimeSpan By) : Step;
    }

    private static Gen<long> UserGen => Gen.Choose(1, Users).Select(u => (long)u);

    private static Gen<long> ProductGen => Gen.Frequency((9, Gen.Choose(1, 3)), (1, Gen.Constant(4))).Select(p => (long)p);

    private static Gen<string?> KeyGen => Gen.Frequency(
        (2, Gen.Constant<string?>(null)),
        (3, Gen.Elements<string?>("a", "b", "c")));

    /// <summary>The key of the request a repeat is checked on: one of the pool, or one no other step uses.</summary>
    private static Gen<string> SomeKey => Gen.Elements("a", "b", "c", Fresh, Fresh);

    private const string Fresh = "fresh";

    private static Gen<(long Product, int Quantity)[]> LinesGen =>
        Gen.Zip(ProductGen, Gen.Frequency((9, Gen.Choose(1, 4)), (1, Gen.Elements(0, 7))))
            .Select(t => (t.Item1, t.Item2))
            .ArrayOf()
            .Resize(3);

    private static readonly Gen<Step> ChargeGen =
        from user in UserGen
        from amount in Gen.Frequency((8, Gen.Choose(1, 400).Select(a => (long)a)), (1, Gen.Elements(0L, 501L)))
        from key in KeyGen
        select (Step)new Step.Charge(user, amount, key);

    private static readonly Gen<Step> OrderGen =
        from user in UserGen
        from lines in LinesGen
        from key in KeyGen
        select (Step)new Step.Order(user, lines, key);

    private static readonly Gen<Step> AnyStep = Gen.Frequency(
        (4, ChargeGen),
        (5, OrderGen),
        (2, Gen.Choose(0, 5).Select(i => (Step)new Step.Cancel(i))),
        (3, from user in UserGen
            from product in Gen.Choose(1, 3)
            from quantity in Gen.Choose(1, 3)
            select (Step)new Step.AddToCart(user, product, quantity)),
        (2, Gen.Zip(UserGen, KeyGen).Select(t => (Step)new Step.Checkout(t.Item1, t.Item2))),
        (1, Gen.Elements(TimeSpan.FromSeconds(5), TimeSpan.FromMinutes(3), TimeSpan.FromMinutes(11)).Select(by => (Step)new Step.Advance(by))));

    /// <summary>A keyed request: the step a repeat is checked on.</summary>
    private static readonly Gen<Step> KeyedStep = Gen.OneOf(
        from user in UserGen
        from amount in Gen.Frequency((8, Gen.Choose(1, 400).Select(a => (long)a)), (1, Gen.Elements(0L, 501L)))
        from key in SomeKey
        select (Step)new Step.Charge(user, amount, key),
        from user in UserGen
        from lines in LinesGen
        from key in SomeKey
        select (Step)new Step.Order(user, lines, key),
        from user in UserGen
        from key in SomeKey
        select (Step)new Step.Checkout(user, key));

    private static readonly Arbitrary<Step[]> Sequences = Arb.From(AnyStep.ArrayOf(), ShrinkSteps);

    private static readonly Arbitrary<(Step[] Before, Step Keyed, int Seconds)> Repeats = Arb.From(
        from before in AnyStep.ArrayOf()
        from keyed in KeyedStep
        from seconds in Gen.Choose(0, 300)
        select (Before: before, Keyed: keyed, Seconds: seconds),
        t => ShrinkSteps(t.Before).Select(b => (b, t.Keyed, t.Seconds)));

    private Config Config => Config.QuickThrowOnFailure
        .WithMaxTest(Cases)
        .WithEndSize(MaxSteps)
        .WithReplay(FSharpOption<Replay>.Some(new Replay(Seed, FSharpOption<int>.None)));

    [StoreFact]
    public void After_any_sequence_every_users_ledger_adds_up_to_the_balance_and_to_the_orders_standing()
    {
        Check.One(Config, Prop.ForAll(Sequences, steps => Task.Run(async () =>
        {
            using var shop = CreateShop(Limits);
            await StockAsync(shop);
            var placed = new List<Order>();
            foreach (var step in steps)
            {
                await RunAsync(shop, step, placed);
            }

            for (var user = 1; user <= Users; user++)
            {
                var ledger = await shop.AssertLedgerConsistentAsync(user);

                // Payments less refunds are what the user's standing orders cost.
                var paid = ledger.Sum(e => e.Kind switch
                {
                    LedgerEntryKind.Payment => e.Amount.Amount,
                    LedgerEntryKind.Refund => -e.Amount.Amount,
                    _ => 0,
                });
                var standing = placed.Where(o => o.UserId == User(user)).Select(o => o.Id).Distinct().ToList();
                var current = new List<Order>();
                foreach (var id in standing)
                {
                    current.Add((await shop.Orders.GetOrderAsync(id)).Value);
                }

                Assert.Equal(current.Where(o => o.Status == OrderStatus.Placed).Sum(o => o.Total.Amount), paid);

                // Each payment and refund names one of the user's orders, for its total.
                foreach (var entry in ledger.Where(e => e.Kind != LedgerEntryKind.Charge))
                {
                    var order = Assert.Single(current, o => o.Id == entry.OrderId);
                    Assert.Equal(order.Total, entry.Amount);
                }
            }
        }).GetAwaiter().GetResult()));
    }

    [StoreFact]
    public void Repeating_a_keyed_request_changes_nothing_and_answers_the_same()
    {
        Check.One(Config, Prop.ForAll(Repeats, t => Task.Run(async () =>
        {
            var (before, keyed, seconds) = t;
            using var shop = CreateShop(Limits);
            await StockAsync(shop);
            var placed = new List<Order>();
            foreach (var step in before)
            {
                await RunAsync(shop, step, placed);
            }

            var users = Enumerable.Range(1, Users).Select(u => (long)u).ToArray();
            var first = await RunAsync(shop, keyed, placed);
            var afterFirst = await shop.DescribeAllAsync(users);

            // Time may pass before the repeat when the first call surely stored its outcome (a key never used
            // before); a pool key may have been stored by an earlier step close to its expiry.
            if (KeyOf(keyed) == Fresh)
            {
                shop.Time.Advance(TimeSpan.FromSeconds(seconds));
            }

            var repeat = await RunAsync(shop, keyed, placed);

            Assert.Equal(first, repeat);
            Assert.Equal(afterFirst, await shop.DescribeAllAsync(users));
        }).GetAwaiter().GetResult()));
    }

    [StoreFact]
    public async Task Generated_sequences_reach_replays_reuses_refusals_cancels_and_checkouts()
    {
        var seen = new HashSet<string>();
        foreach (var steps in AnyStep.ArrayOf().Sample(30, new Rnd(20261203), 30))
        {
            using var shop = CreateShop(Limits);
            await StockAsync(shop);
            var placed = new List<Order>();
            foreach (var step in steps)
            {
                var outcome = await RunAsync(shop, step, placed);
                var kind = step.GetType().Name + (KeyOf(step) is null ? string.Empty : " keyed");
                var answer = outcome.StartsWith("ok ", StringComparison.Ordinal) ? "ok"
                    : outcome.StartsWith("error ", StringComparison.Ordinal) ? outcome.Split(' ')[1]
                    : outcome;
                seen.Add($"{kind}: {answer}");
                seen.Add($"{step.GetType().Name}: {answer}");
            }
        }

        string[] expected =
        [
            "Charge: ok", "Charge keyed: ok", "Charge keyed: IdempotencyKeyReused", "Charge: BalanceLimitExceeded", "Charge: InvalidAmount",
            "Order: ok", "Order keyed: ok", "Order keyed: IdempotencyKeyReused", "Order: InsufficientBalance", "Order: InsufficientStock",
            "Order: InvalidQuantity", "Order: ProductNotFound", "Cancel: ok", "Cancel: OrderAlreadyCancelled",
            "Checkout: ok", "Checkout keyed: ok", "Checkout: EmptyOrder", "Checkout: InsufficientBalance",
        ];
        Assert.All(expected, e => Assert.Contains(e, seen));
    }

    /// <summary>Runs a step and returns its outcome as text (the value, or the error code).</summary>
    private static async Task<string> RunAsync(Shop shop, Step step, List<Order> placed)
    {
        switch (step)
        {
            case Step.Charge c:
                var charged = c.Key is null
                    ? await shop.Wallets.ChargeAsync(User(c.User), Money(c.Amount))
                    : await shop.Wallets.ChargeAsync(User(c.User), Money(c.Amount), new IdempotencyKey(c.Key));
                return Outcome(charged, m => m.ToString());

            case Step.Order o:
                var lines = LedgerShopExtensions.Lines(o.Lines);
                var ordered = o.Key is null
                    ? await shop.Orders.PlaceOrderAsync(User(o.User), lines)
                    : await shop.Orders.PlaceOrderAsync(User(o.User), lines, new IdempotencyKey(o.Key));
                return Placed(ordered, placed);

            case Step.Cancel x:
                if (placed.Count == 0)
                {
                    return "nothing to cancel";
                }

                return Outcome(await shop.Orders.CancelOrderAsync(placed[x.Index % placed.Count].Id), LedgerShopExtensions.Describe);

            case Step.AddToCart a:
                return Outcome(await shop.Carts.AddItemAsync(User(a.User), Product(a.Product), a.Quantity), v => v.Total.ToString());

            case Step.Checkout k:
                var checkedOut = k.Key is null
                    ? await shop.Carts.CheckoutAsync(User(k.User))
                    : await shop.Carts.CheckoutAsync(User(k.User), new IdempotencyKey(k.Key));
                return Placed(checkedOut, placed);

            case Step.Advance a:
                shop.Time.Advance(a.By);
                return "advanced";

            default:
                throw new ArgumentOutOfRangeException(nameof(step), step, "Unknown step.");
        }
    }

    private static string Placed(Result<Order> result, List<Order> placed)
    {
        if (result.IsSuccess && !placed.Exists(o => o.Id == result.Value.Id))
        {
            placed.Add(result.Value);
        }

        return Outcome(result, LedgerShopExtensions.Describe);
    }

    private static string Outcome<T>(Result<T> result, Func<T, string> describe) =>
        result.IsSuccess ? "ok " + describe(result.Value) : string.Create(CultureInfo.InvariantCulture, $"error {result.Error!.Code} [{string.Join(",", result.Error.ProductIds)}]");

    private static string? KeyOf(Step step) => step switch
    {
        Step.Charge c => c.Key,
        Step.Order o => o.Key,
        Step.Checkout k => k.Key,
        _ => null,
    };

    /// <summary>Halves first, then the sequence without one step.</summary>
    private static IEnumerable<Step[]> ShrinkSteps(Step[] steps)
    {
        if (steps.Length > 1)
        {
            yield return steps[..(steps.Length / 2)];
            yield return steps[(steps.Length / 2)..];
        }

        for (var i = 0; i < steps.Length; i++)
        {
            yield return [.. steps[..i], .. steps[(i + 1)..]];
        }
    }
}
