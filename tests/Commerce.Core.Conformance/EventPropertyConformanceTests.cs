using System.Globalization;
using Commerce.Events;
using Commerce.Storage;
using FsCheck;
using FsCheck.Fluent;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.FSharp.Core;

namespace Commerce.Conformance;

/// <summary>
/// Properties over random sequences of every kind of call, run one at a time and checked against a small
/// model of what each one publishes: every step that succeeds publishes exactly its events and a refused
/// one publishes none and changes nothing observable; every page of the feed moves its cursor on over
/// exactly the events it holds; the whole feed numbers each stripe 1, 2, 3 … without gaps and keeps each
/// stream in the order its steps ran; the events replayed rebuild balances, stock and sales; and no limit
/// of the options is ever exceeded.
/// </summary>
public abstract class EventPropertyConformanceTests : CommerceConformanceTests
{
    /// <summary>The generator's seed: every run checks the same sequences, so a failure reproduces.</summary>
    private static readonly Rnd Seed = new(20261206, 1442695040888963407);

    private const int Users = 3;

    private const int Products = 4;

    /// <summary>How many random sequences the property runs, each on a fresh shop.</summary>
    protected virtual int Cases => 10;

    /// <summary>The longest sequence (the generator's size grows to it over the cases).</summary>
    protected virtual int MaxSteps => 20;

    /// <summary>Limits small enough that random steps reach every refusal.</summary>
    private static void Limits(CommerceOptions options)
    {
        options.MaxChargeAmount = new Money(500);
        options.MaxBalance = new Money(800);
        options.MaxLineQuantity = 6;
        options.MaxOrderLines = 3;
    }

    /// <summary>The steps every sequence starts with: a free product, a cheap one and a dear one, with little stock (the fourth is left to add).</summary>
    private static readonly Step[] Catalog = [new Step.AddProduct(1, 0, 1), new Step.AddProduct(2, 7, 5), new Step.AddProduct(3, 120, 2)];

    /// <summary>One step of a random sequence.</summary>
    public abstract record Step
    {
        /// <summary>A charge.</summary>
        public sealed record Charge(long User, long Amount) : Step;

        /// <summary>Adds a product (one that exists already, sometimes).</summary>
        public sealed record AddProduct(long Product, long Price, int Stock) : Step;

        /// <summary>Restocks a product (an unknown one, sometimes).</summary>
        public sealed record Restock(long Product, int Quantity) : Step;

        /// <summary>An order.</summary>
        public sealed record Order(long User, (long Product, int Quantity)[] Lines) : Step
        {
            /// <inheritdoc />
            public override string ToString() =>
                string.Create(CultureInfo.InvariantCulture, $"Order {{ User = {User}, Lines = [{string.Join(", ", Lines.Select(l => $"{l.Product}x{l.Quantity}"))}] }}");
        }

        /// <summary>Cancels the order placed <paramref name="Index"/>-th (modulo the number placed so far).</summary>
        public sealed record Cancel(int Index) : Step;

        /// <summary>Puts a product in a cart.</summary>
        public sealed record AddToCart(long User, long Product, int Quantity) : Step;

        /// <summary>Takes a product out of a cart.</summary>
        public sealed record RemoveFromCart(long User, long Product) : Step;

        /// <summary>A checkout.</summary>
        public sealed record Checkout(long User) : Step;

        /// <summary>Moves the fake clock, so that steps are stamped with different instants.</summary>
        public sealed record Advance(TimeSpan By) : Step;
    }

    private static Gen<long> UserGen => Gen.Choose(1, Users).Select(u => (long)u);

    /// <summary>Mostly a product of the catalog's range, sometimes one no step adds.</summary>
    private static Gen<long> ProductGen => Gen.Frequency((9, Gen.Choose(1, Products)), (1, Gen.Constant(Products + 1))).Select(p => (long)p);

    private static Gen<int> QuantityGen => Gen.Frequency((9, Gen.Choose(1, 4)), (1, Gen.Elements(0, 7)));

    private static readonly Gen<Step> AnyStep = Gen.Frequency(
        (4, from user in UserGen
            from amount in Gen.Frequency((8, Gen.Choose(1, 400).Select(a => (long)a)), (1, Gen.Elements(0L, 501L)))
            select (Step)new Step.Charge(user, amount)),
        (3, from product in Gen.Choose(1, Products)
            from price in Gen.Frequency((8, Gen.Elements(0L, 7L, 40L, 120L)), (1, Gen.Constant(-1L)))
            from stock in Gen.Frequency((8, Gen.Choose(0, 5)), (1, Gen.Constant(-1)))
            select (Step)new Step.AddProduct(product, price, stock)),
        (2, from product in ProductGen
            from quantity in Gen.Frequency((3, Gen.Choose(1, 4)), (1, Gen.Elements(0, 7)))
            select (Step)new Step.Restock(product, quantity)),
        (5, from user in UserGen
            from lines in Gen.Zip(ProductGen, QuantityGen).Select(t => (t.Item1, t.Item2)).ArrayOf().Resize(4)
            select (Step)new Step.Order(user, lines)),
        (2, Gen.Choose(0, 5).Select(i => (Step)new Step.Cancel(i))),
        (3, from user in UserGen
            from product in ProductGen
            from quantity in QuantityGen
            select (Step)new Step.AddToCart(user, product, quantity)),
        (2, Gen.Zip(UserGen, ProductGen).Select(t => (Step)new Step.RemoveFromCart(t.Item1, t.Item2))),
        (2, UserGen.Select(u => (Step)new Step.Checkout(u))),
        (1, Gen.Elements(TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(7)).Select(by => (Step)new Step.Advance(by))));

    /// <summary>A sequence and the page size its feed is read with (small, so that steps span pages).</summary>
    private static readonly Arbitrary<(Step[] Steps, int PageSize)> Sequences = Arb.From(
        from steps in AnyStep.ArrayOf()
        from pageSize in Gen.Choose(1, 4)
        select (Steps: steps, PageSize: pageSize),
        t => ShrinkSteps(t.Steps).Select(s => (s, t.PageSize)));

    private Config Config => Config.QuickThrowOnFailure
        .WithMaxTest(Cases)
        .WithEndSize(MaxSteps)
        .WithReplay(FSharpOption<Replay>.Some(new Replay(Seed, FSharpOption<int>.None)));

    [StoreFact]
    public void Every_step_publishes_exactly_its_events_a_refused_one_nothing_and_the_feed_replays_to_the_state_within_the_limits()
    {
        Check.One(Config, Prop.ForAll(Sequences, t => Task.Run(() => RunAsync(t.Steps, t.PageSize)).GetAwaiter().GetResult()));
    }

    [StoreFact]
    public async Task Generated_sequences_reach_every_event_and_refusal_they_are_meant_to()
    {
        // Thirty sequences, run six after another on each of five shops (a fresh shop costs a database a schema).
        var seen = new HashSet<string>();
        foreach (var batch in AnyStep.ArrayOf().Sample(30, new Rnd(20261206), 30).Chunk(6))
        {
            seen.UnionWith(await RunAsync([.. batch.SelectMany(steps => steps)], pageSize: 1000, check: false));
        }

        string[] expected =
        [
            "Charge: WalletCharged", "Charge: InvalidAmount", "Charge: ChargeLimitExceeded", "Charge: BalanceLimitExceeded",
            "AddProduct: ProductAdded", "AddProduct: ProductAlreadyExists", "AddProduct: InvalidAmount", "AddProduct: InvalidQuantity",
            "Restock: ProductRestocked", "Restock: ProductNotFound", "Restock: InvalidQuantity",
            "Order: OrderPlaced", "Order: OrderPlaced StockDepleted", "Order: InsufficientBalance", "Order: InsufficientStock", "Order: ProductNotFound",
            "Order: EmptyOrder", "Order: InvalidQuantity", "Cancel: OrderCancelled", "Cancel: OrderAlreadyCancelled",
            "AddToCart: ok", "AddToCart: ProductNotFound", "RemoveFromCart: ok", "RemoveFromCart: CartItemNotFound",
            "Checkout: OrderPlaced", "Checkout: EmptyOrder",
        ];
        Assert.True(expected.All(seen.Contains), string.Join(" / ", seen.Order()));
    }

    /// <summary>
    /// Runs the steps one at a time, checking each one's events and, for a refusal, that nothing changed;
    /// then checks the whole feed, the replay and the limits.
    /// </summary>
    /// <param name="generated">The steps, run after <see cref="Catalog"/>'s.</param>
    /// <param name="pageSize">The size of the pages the feed is read in.</param>
    /// <param name="check">Whether to check anything, or only to run the steps and report their outcomes.</param>
    /// <returns>Each step's kind and outcome ("Order: OrderPlaced StockDepleted", "Charge: InvalidAmount").</returns>
    private async Task<List<string>> RunAsync(Step[] generated, int pageSize, bool check = true)
    {
        Step[] steps = [.. Catalog, .. generated];
        using var shop = CreateShop(Limits);
        var feed = shop.Services.GetRequiredService<ICommerceEventFeed>();
        var stripes = shop.Services.GetRequiredService<IEventStore>().StripeCount;
        var users = Enumerable.Range(1, Users).Select(u => (long)u).ToArray();
        var model = new Model();
        var trace = new List<string>();
        var expectedByStream = new Dictionary<EventStream, List<string>>();
        var cursor = EventCursor.Start;
        var before = check ? await shop.DescribeAllAsync(users) : string.Empty;

        for (var i = 0; i < steps.Length; i++)
        {
            var step = steps[i];
            var (refusal, expected) = await ExecuteAsync(shop, step, model);
            trace.Add($"{step.GetType().Name}: {refusal ?? (expected.Count == 0 ? "ok" : string.Join(' ', expected.Select(e => e.GetType().Name)))}");
            if (!check)
            {
                continue;
            }

            // The events the step published, read page by page from where the previous step's ended.
            var published = new List<CommerceEvent>();
            while (true)
            {
                var page = await feed.ReadAsync(cursor, pageSize);
                Assert.True(page.Events.Count <= pageSize, $"step {i}, {step}: a page of {page.Events.Count} events for a limit of {pageSize}.");
                Assert.All(page.Events, e => Assert.False(cursor.Covers(e.Position), $"step {i}, {step}: {e} was read again after {cursor}."));
                Assert.Equal(page.Events.Aggregate(cursor, (c, e) => c.Through(e.Position)), page.Next);
                published.AddRange(page.Events);
                cursor = page.Next;
                if (page.Events.Count == 0)
                {
                    break;
                }
            }

            var after = await shop.DescribeAllAsync(users);
            if (refusal is not null)
            {
                Assert.True(published.Count == 0, $"step {i}, {step}: refused with {refusal} but published {string.Join("; ", published)}.");
                Assert.True(before == after, $"step {i}, {step}: refused with {refusal} but changed the shop:\n{before}\n-- became --\n{after}");
            }
            else
            {
                Assert.Equal(expected.Select(Text).Order(StringComparer.Ordinal), published.Select(Text).Order(StringComparer.Ordinal));
                foreach (var e in expected)
                {
                    (expectedByStream.TryGetValue(e.Stream, out var list) ? list : expectedByStream[e.Stream] = []).Add(Text(e));
                }
            }

            before = after;
        }

        if (!check)
        {
            return trace;
        }

        // The whole feed: every stripe numbered from 1 without gaps, each stream in one stripe and in the
        // order its steps ran, and nothing left to read after the last step's cursor.
        var all = new List<CommerceEvent>();
        var from = EventCursor.Start;
        for (var page = await feed.ReadAsync(from, 1000); page.Events.Count > 0; page = await feed.ReadAsync(from, 1000))
        {
            all.AddRange(page.Events);
            from = page.Next;
        }

        Assert.Equal(cursor, from);
        foreach (var stripe in all.GroupBy(e => e.Position.Stripe))
        {
            Assert.Equal(Enumerable.Range(1, stripe.Count()).Select(n => (long)n), stripe.Select(e => e.Position.Sequence));
        }

        Assert.Equal(expectedByStream.Keys.OrderBy(s => (s.Kind, s.Id)), all.Select(e => e.Stream).Distinct().OrderBy(s => (s.Kind, s.Id)));
        foreach (var stream in all.GroupBy(e => e.Stream))
        {
            Assert.All(stream, e => Assert.Equal(stream.Key.StripeOf(stripes), e.Position.Stripe));
            Assert.Equal(expectedByStream[stream.Key], stream.Select(Text));
        }

        await AssertReplayRebuildsTheStateAsync(shop, all, model);
        await AssertWithinTheLimitsAsync(shop, users);
        return trace;
    }

    /// <summary>An event as text without its position (which the store gives it).</summary>
    private static string Text(CommerceEvent e) => (e with { Position = default }).ToString();

    /// <summary>
    /// Runs a step; returns the refusal's code, or the events the step must have published (from the model,
    /// which the step's result updates).
    /// </summary>
    private static async Task<(string? Refusal, List<CommerceEvent> Expected)> ExecuteAsync(Shop shop, Step step, Model model)
    {
        var now = shop.Time.GetUtcNow();
        switch (step)
        {
            case Step.Charge c:
            {
                var charged = await shop.Wallets.ChargeAsync(User(c.User), Money(c.Amount));
                if (charged.IsFailure)
                {
                    return (charged.Error.Code.ToString(), []);
                }

                model.Balances[c.User] = model.Balances.GetValueOrDefault(c.User) + c.Amount;
                Assert.Equal(Money(model.Balances[c.User]), charged.Value);
                return (null, [new WalletCharged(User(c.User), Money(c.Amount), charged.Value, now)]);
            }

            case Step.AddProduct a:
            {
                var name = "P" + a.Product.ToString(CultureInfo.InvariantCulture);
                var added = await shop.Catalog.AddProductAsync(Product(a.Product), name, Money(a.Price), a.Stock);
                if (added.IsFailure)
                {
                    return (added.Error.Code.ToString(), []);
                }

                model.Stock[a.Product] = a.Stock;
                return (null, [new ProductAdded(Product(a.Product), name, Money(a.Price), a.Stock, now)]);
            }

            case Step.Restock r:
            {
                var restocked = await shop.Catalog.RestockAsync(Product(r.Product), r.Quantity);
                if (restocked.IsFailure)
                {
                    return (restocked.Error.Code.ToString(), []);
                }

                model.Stock[r.Product] += r.Quantity;
                Assert.Equal(model.Stock[r.Product], restocked.Value.Stock);
                return (null, [new ProductRestocked(Product(r.Product), r.Quantity, (int)model.Stock[r.Product], now)]);
            }

            case Step.Order o:
                return Placed(await shop.Orders.PlaceOrderAsync(User(o.User), LedgerShopExtensions.Lines(o.Lines)), model, now);

            case Step.Checkout k:
                return Placed(await shop.Carts.CheckoutAsync(User(k.User)), model, now);

            case Step.Cancel x:
            {
                if (model.Placed.Count == 0)
                {
                    return (null, []);
                }

                var cancelled = await shop.Orders.CancelOrderAsync(model.Placed[x.Index % model.Placed.Count].Id);
                if (cancelled.IsFailure)
                {
                    return (cancelled.Error.Code.ToString(), []);
                }

                var order = cancelled.Value;
                Assert.Equal(now, order.CancelledAt);
                model.Balances[order.UserId.Value] = model.Balances.GetValueOrDefault(order.UserId.Value) + order.Total.Amount;
                foreach (var line in order.Lines)
                {
                    model.Stock[line.ProductId.Value] += line.Quantity;
                    model.Sold[line.ProductId.Value] -= line.Quantity;
                }

                return (null, [new OrderCancelled(order.Id, order.UserId, order.Lines, order.Total, now)]);
            }

            case Step.AddToCart a:
            {
                var cart = await shop.Carts.AddItemAsync(User(a.User), Product(a.Product), a.Quantity);
                return (cart.IsFailure ? cart.Error.Code.ToString() : null, []);
            }

            case Step.RemoveFromCart r:
            {
                var cart = await shop.Carts.RemoveItemAsync(User(r.User), Product(r.Product));
                return (cart.IsFailure ? cart.Error.Code.ToString() : null, []);
            }

            case Step.Advance a:
                shop.Time.Advance(a.By);
                return (null, []);

            default:
                throw new ArgumentOutOfRangeException(nameof(step), step, "Unknown step.");
        }
    }

    /// <summary>The events of an order placed (with a StockDepleted for each product whose last units it took), or the refusal.</summary>
    private static (string? Refusal, List<CommerceEvent> Expected) Placed(Result<Order> placed, Model model, DateTimeOffset now)
    {
        if (placed.IsFailure)
        {
            return (placed.Error.Code.ToString(), []);
        }

        var order = placed.Value;
        Assert.Equal(now, order.PlacedAt);
        Assert.Equal(order.Lines.Sum(l => l.LineTotal.Amount), order.Total.Amount);
        model.Placed.Add(order);
        model.Balances[order.UserId.Value] = model.Balances.GetValueOrDefault(order.UserId.Value) - order.Total.Amount;
        List<CommerceEvent> expected = [new OrderPlaced(order.Id, order.UserId, order.Lines, order.Total, now)];
        foreach (var line in order.Lines)
        {
            model.Stock[line.ProductId.Value] -= line.Quantity;
            model.Sold[line.ProductId.Value] = model.Sold.GetValueOrDefault(line.ProductId.Value) + line.Quantity;
            if (model.Stock[line.ProductId.Value] == 0)
            {
                expected.Add(new StockDepleted(line.ProductId, order.Id, now));
            }
        }

        return (null, expected);
    }

    /// <summary>
    /// Replays the feed from the start (charges add, orders take, cancels give back) and asserts that it
    /// rebuilds what the services report and what the model kept: balances, stock on hand and units sold.
    /// </summary>
    private static async Task AssertReplayRebuildsTheStateAsync(Shop shop, List<CommerceEvent> all, Model model)
    {
        // Across streams the feed keeps no order (steps between clock moves share one instant), so the
        // replay only adds; the running values were checked step by step against the model.
        var balances = new Dictionary<long, long>();
        var stock = new Dictionary<long, long>();
        var sold = new Dictionary<long, long>();
        void Add(Dictionary<long, long> to, long key, long delta) => to[key] = to.GetValueOrDefault(key) + delta;
        foreach (var e in all)
        {
            switch (e)
            {
                case WalletCharged c:
                    Add(balances, c.UserId.Value, c.Amount.Amount);
                    break;
                case ProductAdded a:
                    Add(stock, a.ProductId.Value, a.InitialStock);
                    break;
                case ProductRestocked r:
                    Add(stock, r.ProductId.Value, r.Quantity);
                    break;
                case OrderPlaced p:
                    Add(balances, p.UserId.Value, -p.Total.Amount);
                    foreach (var line in p.Lines)
                    {
                        Add(stock, line.ProductId.Value, -line.Quantity);
                        Add(sold, line.ProductId.Value, line.Quantity);
                    }

                    break;
                case OrderCancelled x:
                    Add(balances, x.UserId.Value, x.Refunded.Amount);
                    foreach (var line in x.Lines)
                    {
                        Add(stock, line.ProductId.Value, line.Quantity);
                        Add(sold, line.ProductId.Value, -line.Quantity);
                    }

                    break;
            }
        }

        for (var user = 1L; user <= Users; user++)
        {
            var balance = (await shop.Wallets.GetBalanceAsync(User(user))).Amount;
            Assert.Equal(model.Balances.GetValueOrDefault(user), balance);
            Assert.Equal(balances.GetValueOrDefault(user), balance);
        }

        var products = await shop.AllProductsAsync();
        Assert.Equal(model.Stock.Keys.Order(), products.Select(p => p.Id.Value));
        Assert.Equal(stock.Keys.Order(), products.Select(p => p.Id.Value));
        foreach (var product in products)
        {
            Assert.Equal(model.Stock[product.Id.Value], product.Stock);
            Assert.Equal(stock[product.Id.Value], product.Stock);
        }

        var ranked = await shop.SoldAsync();
        Assert.Equal(model.Sold.Where(s => s.Value > 0).OrderBy(s => s.Key), ranked.Select(r => KeyValuePair.Create(r.Key.Value, r.Value)).OrderBy(s => s.Key));
        Assert.Equal(sold.Where(s => s.Value > 0).OrderBy(s => s.Key), ranked.Select(r => KeyValuePair.Create(r.Key.Value, r.Value)).OrderBy(s => s.Key));
    }

    /// <summary>Asserts that no balance, stock, order or cart is outside what the options allow.</summary>
    private static async Task AssertWithinTheLimitsAsync(Shop shop, long[] users)
    {
        var options = shop.Options;
        foreach (var user in users)
        {
            var balance = await shop.Wallets.GetBalanceAsync(User(user));
            Assert.InRange(balance.Amount, 0, options.MaxBalance.Amount);
            foreach (var order in await shop.Orders.ListOrdersAsync(User(user), 1000))
            {
                Assert.InRange(order.Lines.Count, 1, options.MaxOrderLines);
                Assert.All(order.Lines, l => Assert.InRange(l.Quantity, 1, options.MaxLineQuantity));
                Assert.Equal(order.Lines.Count, order.Lines.Select(l => l.ProductId).Distinct().Count());
            }

            var cart = await shop.Carts.GetCartAsync(User(user));
            Assert.All(cart.Lines, l => Assert.InRange(l.Quantity, 1, options.MaxLineQuantity));
            Assert.Equal(cart.Lines.Count, cart.Lines.Select(l => l.ProductId).Distinct().Count());
        }

        Assert.All(await shop.AllProductsAsync(), p => Assert.True(p.Stock >= 0, $"{p} has negative stock."));
    }

    /// <summary>What the steps that succeeded did: balances, stock on hand, units sold and the orders placed.</summary>
    private sealed class Model
    {
        public Dictionary<long, long> Balances { get; } = [];

        public Dictionary<long, long> Stock { get; } = [];

        public Dictionary<long, long> Sold { get; } = [];

        public List<Order> Placed { get; } = [];
    }

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
