namespace Commerce.Conformance;

/// <summary>
/// Long seeded random sequences of every operation, run one after another against the store and
/// against a plain sequential model of the rules; after every operation the outcome (success value or
/// error code) must match, and at checkpoints the whole observable state must match.
/// </summary>
public abstract class ModelConformanceTests : CommerceConformanceTests
{
    private const int Users = 4;
    private const int Products = 8;

    [StoreTheory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public async Task Random_operation_sequences_agree_with_a_sequential_model(int seed)
    {
        using var shop = CreateShop(o =>
        {
            o.MaxChargeAmount = Money(1_000);
            o.MaxBalance = Money(5_000);
            o.MaxLineQuantity = 20;
            o.MaxOrderLines = 3;
        });
        var model = new Model(shop.Options);
        var random = new Random(seed);

        for (var step = 0; step < 1_500; step++)
        {
            var user = random.Next(Users);
            var product = random.Next(Products + 1);
            switch (random.Next(7))
            {
                case 0:
                {
                    var amount = random.Next(-5, 1_200);
                    var actual = await shop.Wallets.ChargeAsync(User(user), Money(amount));
                    Same(model.Charge(user, amount), actual.Map(b => b.Amount), step);
                    break;
                }

                case 1:
                {
                    var price = random.Next(-1, 60);
                    var stock = random.Next(-1, 12);
                    var actual = await shop.Catalog.AddProductAsync(Product(product), $"P{product}", Money(price), stock);
                    Same(model.AddProduct(product, price, stock), actual.Map(p => (long)p.Stock), step);
                    break;
                }

                case 2:
                {
                    var quantity = random.Next(-1, 10);
                    var actual = await shop.Catalog.RestockAsync(Product(product), quantity);
                    Same(model.Restock(product, quantity), actual.Map(p => (long)p.Stock), step);
                    break;
                }

                case 3:
                case 4:
                {
                    var lines = Enumerable.Range(0, random.Next(0, 5))
                        .Select(_ => (Product: (long)random.Next(Products + 1), Quantity: random.Next(-1, 9)))
                        .ToArray();
                    var actual = await shop.OrderAsync(user, lines);
                    Same(model.Order(user, lines), actual.Map(o => o.Total.Amount), step);
                    if (actual.IsSuccess)
                    {
                        Assert.Equal(actual.Value, (await shop.Orders.GetOrderAsync(actual.Value.Id)).Value);
                    }

                    break;
                }

                case 5:
                {
                    var quantity = random.Next(-1, 9);
                    var actual = await shop.Carts.AddItemAsync(User(user), Product(product), quantity);
                    Same(model.CartAdd(user, product, quantity), actual.Map(c => c.Total.Amount), step);
                    break;
                }

                default:
                {
                    var actual = await shop.Carts.RemoveItemAsync(User(user), Product(product));
                    Same(model.CartRemove(user, product), actual.Map(c => c.Total.Amount), step);
                    break;
                }
            }

            if (step % 100 == 99)
            {
                await AssertSameStateAsync(shop, model);
                shop.Time.Advance(TimeSpan.FromMinutes(random.Next(0, 90)));
            }
        }

        await AssertSameStateAsync(shop, model);
    }

    private static void Same(Result<long> expected, Result<long> actual, int step)
    {
        if (expected.IsSuccess)
        {
            Assert.True(actual.IsSuccess, $"step {step}: expected {expected} but got {actual}");
            Assert.Equal(expected.Value, actual.Value);
        }
        else
        {
            Assert.True(actual.IsFailure, $"step {step}: expected {expected} but got {actual}");
            Assert.Equal(expected.Error.Code, actual.Error.Code);
            Assert.Equal(expected.Error.ProductIds, actual.Error.ProductIds);
        }
    }

    private static async Task AssertSameStateAsync(Shop shop, Model model)
    {
        for (var user = 0; user < Users; user++)
        {
            Assert.Equal(Money(model.Balances.GetValueOrDefault(user)), await shop.Wallets.GetBalanceAsync(User(user)));
            var cart = await shop.Carts.GetCartAsync(User(user));
            Assert.Equal(
                model.Carts.GetValueOrDefault(user) ?? [],
                cart.Lines.Select(l => (l.ProductId.Value, l.Quantity)).ToList());
        }

        Assert.Equal(
            model.Catalog.OrderBy(p => p.Key).Select(p => (p.Key, p.Value.Price, p.Value.Stock)),
            (await shop.AllProductsAsync()).Select(p => (p.Id.Value, p.Price.Amount, p.Stock)));
        Assert.Equal(model.Sold.ToDictionary(s => Product(s.Key), s => s.Value), await shop.SoldAsync());
    }

    /// <summary>The documented rules, written as plainly as possible.</summary>
    private sealed class Model(CommerceOptions options)
    {
        public Dictionary<long, long> Balances { get; } = [];

        public Dictionary<long, (long Price, int Stock)> Catalog { get; } = [];

        public Dictionary<long, List<(long Product, int Quantity)>> Carts { get; } = [];

        public Dictionary<long, long> Sold { get; } = [];

        private static Result<long> Fail(CommerceErrorCode code, params long[] products) =>
            Result<long>.Failure(new CommerceError(code, code.ToString(), products.Order().Select(p => new ProductId(p))));

        public Result<long> Charge(long user, long amount)
        {
            var balance = Balances.GetValueOrDefault(user);
            if (amount <= 0)
            {
                return Fail(CommerceErrorCode.InvalidAmount);
            }

            if (amount > options.MaxChargeAmount.Amount)
            {
                return Fail(CommerceErrorCode.ChargeLimitExceeded);
            }

            if (balance + amount > options.MaxBalance.Amount)
            {
                return Fail(CommerceErrorCode.BalanceLimitExceeded);
            }

            return Balances[user] = balance + amount;
        }

        public Result<long> AddProduct(long product, long price, int stock)
        {
            if (price < 0)
            {
                return Fail(CommerceErrorCode.InvalidAmount);
            }

            if (stock < 0)
            {
                return Fail(CommerceErrorCode.InvalidQuantity);
            }

            if (Catalog.ContainsKey(product))
            {
                return Fail(CommerceErrorCode.ProductAlreadyExists, product);
            }

            Catalog[product] = (price, stock);
            return stock;
        }

        public Result<long> Restock(long product, int quantity)
        {
            if (quantity <= 0)
            {
                return Fail(CommerceErrorCode.InvalidQuantity);
            }

            if (!Catalog.TryGetValue(product, out var entry))
            {
                return Fail(CommerceErrorCode.ProductNotFound, product);
            }

            Catalog[product] = entry with { Stock = entry.Stock + quantity };
            return entry.Stock + quantity;
        }

        public Result<long> Order(long user, (long Product, int Quantity)[] lines)
        {
            if (lines.Length == 0)
            {
                return Fail(CommerceErrorCode.EmptyOrder);
            }

            if (lines.Any(l => l.Quantity <= 0))
            {
                return Fail(CommerceErrorCode.InvalidQuantity);
            }

            var merged = lines.GroupBy(l => l.Product).Select(g => (Product: g.Key, Quantity: g.Sum(l => l.Quantity))).ToList();
            if (merged.Any(l => l.Quantity > options.MaxLineQuantity))
            {
                return Fail(CommerceErrorCode.InvalidQuantity);
            }

            if (merged.Count > options.MaxOrderLines)
            {
                return Fail(CommerceErrorCode.TooManyLines);
            }

            var unknown = merged.Where(l => !Catalog.ContainsKey(l.Product)).Select(l => l.Product).ToArray();
            if (unknown.Length > 0)
            {
                return Fail(CommerceErrorCode.ProductNotFound, unknown);
            }

            var total = merged.Sum(l => Catalog[l.Product].Price * l.Quantity);
            if (total > Balances.GetValueOrDefault(user))
            {
                return Fail(CommerceErrorCode.InsufficientBalance);
            }

            var shortOf = merged.Where(l => Catalog[l.Product].Stock < l.Quantity).Select(l => l.Product).ToArray();
            if (shortOf.Length > 0)
            {
                return Fail(CommerceErrorCode.InsufficientStock, shortOf);
            }

            Balances[user] = Balances.GetValueOrDefault(user) - total;
            foreach (var (product, quantity) in merged)
            {
                Catalog[product] = Catalog[product] with { Stock = Catalog[product].Stock - quantity };
                Sold[product] = Sold.GetValueOrDefault(product) + quantity;
            }

            return total;
        }

        public Result<long> CartAdd(long user, long product, int quantity)
        {
            if (quantity <= 0)
            {
                return Fail(CommerceErrorCode.InvalidQuantity);
            }

            if (!Catalog.ContainsKey(product))
            {
                return Fail(CommerceErrorCode.ProductNotFound, product);
            }

            var cart = Carts.GetValueOrDefault(user) ?? [];
            var at = cart.FindIndex(l => l.Product == product);
            var next = (at < 0 ? 0 : cart[at].Quantity) + quantity;
            if (next > options.MaxLineQuantity)
            {
                return Fail(CommerceErrorCode.InvalidQuantity);
            }

            if (at < 0)
            {
                cart.Add((product, next));
            }
            else
            {
                cart[at] = (product, next);
            }

            Carts[user] = cart;
            return CartTotal(cart);
        }

        public Result<long> CartRemove(long user, long product)
        {
            var cart = Carts.GetValueOrDefault(user);
            var at = cart?.FindIndex(l => l.Product == product) ?? -1;
            if (at < 0)
            {
                return Fail(CommerceErrorCode.CartItemNotFound, product);
            }

            cart!.RemoveAt(at);
            return CartTotal(cart);
        }

        private long CartTotal(List<(long Product, int Quantity)> cart) => cart.Sum(l => Catalog[l.Product].Price * l.Quantity);
    }
}
