using Commerce.Events;
using Commerce.Storage;
using Microsoft.Extensions.DependencyInjection;

namespace Commerce.Conformance;

/// <summary>
/// The services at the edges of their input domains (ids, amounts, quantities, names, times, cursors and
/// options at their extremes): each store gives the same answer, a refusal that changed nothing or a success.
/// </summary>
public abstract class LimitsConformanceTests : CommerceConformanceTests
{
    /// <summary>
    /// Drawn from a fixed seed, page sizes, list limits, ledger positions, ranking counts and windows, near and at
    /// both ends of their documented ranges and far outside them (small limits, so that a shop of five products,
    /// five ledger entries and four orders fills a page): a value in range is answered with at most that many
    /// items, exactly as many as there are up to it; one out of range throws ArgumentOutOfRangeException and
    /// changes nothing.
    /// </summary>
    [StoreFact]
    public async Task Page_sizes_limits_positions_counts_and_windows_throw_exactly_outside_their_documented_ranges()
    {
        using var shop = CreateShop(o =>
        {
            o.MaxPageSize = 4;
            o.DefaultPageSize = 4;
            o.MaxPopularProductsCount = 3;
            o.PopularProductsCount = 3;
            o.MaxRankingWindow = TimeSpan.FromDays(2);
            o.PopularProductsWindow = TimeSpan.FromDays(1);
        });
        for (var p = 1; p <= 5; p++)
        {
            await shop.AddProductAsync(p, 1, 10);
        }

        await shop.ChargeAsync(1, 100);
        for (var p = 1; p <= 4; p++)
        {
            Assert.True((await shop.OrderAsync(1, (p, p))).IsSuccess);
        }

        var before = await shop.DescribeAsync(1);
        var random = new Random(20261206);
        int Near(int low, int high) => random.Next(4) switch
        {
            0 => random.Next(low - 2, low + 2),
            1 => random.Next(high - 1, high + 3),
            2 => random.Next(2) == 0 ? int.MinValue + random.Next(2) : int.MaxValue - random.Next(2),
            _ => random.Next(low - 5, high + 5),
        };

        async Task AssertAsync<T>(bool inRange, int expected, Func<ValueTask<IReadOnlyList<T>>> call, string what)
        {
            if (inRange)
            {
                Assert.True(expected == (await call()).Count, what);
            }
            else
            {
                await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await call());
            }
        }

        for (var i = 0; i < 30; i++)
        {
            var limit = Near(1, 4);
            await AssertAsync(limit is >= 1 and <= 4, Math.Min(Math.Max(limit, 0), 5), () => shop.Catalog.ListProductsAsync(null, limit), $"products, limit {limit}");

            var ledgerLimit = Near(1, 1000);
            var after = random.Next(3) == 0 ? random.NextInt64(-3, 0) : random.Next(3) == 0 ? long.MaxValue - random.Next(2) : random.Next(0, 7);
            await AssertAsync(ledgerLimit is >= 1 and <= 1000 && after >= 0, (int)Math.Clamp(5 - after, 0, Math.Max(ledgerLimit, 0)), () => shop.Wallets.GetLedgerAsync(User(1), after, ledgerLimit), $"ledger after {after}, limit {ledgerLimit}");

            var orders = Near(1, 1000);
            await AssertAsync(orders is >= 1 and <= 1000, Math.Min(Math.Max(orders, 0), 4), () => shop.Orders.ListOrdersAsync(User(1), orders), $"orders, limit {orders}");

            var count = Near(1, 3);
            var window = random.Next(4) switch
            {
                0 => TimeSpan.FromTicks(random.NextInt64(-2, 2)),
                1 => TimeSpan.FromDays(2) + TimeSpan.FromTicks(random.NextInt64(-1, 2)),
                2 => random.Next(2) == 0 ? TimeSpan.MinValue : TimeSpan.MaxValue,
                _ => TimeSpan.FromMinutes(random.Next(-10, 4000)),
            };
            await AssertAsync(count is >= 1 and <= 3 && window > TimeSpan.Zero && window <= TimeSpan.FromDays(2), Math.Min(Math.Max(count, 0), 4), () => shop.Ranking.GetPopularProductsAsync(count, window), $"ranking, count {count}, window {window}");
        }

        Assert.Equal(before, await shop.DescribeAsync(1));
    }

    /// <summary>
    /// Each argument exception the services document, at the first value outside its range (and for a null list or
    /// name), names the parameter of the signature it documents, as a caller's handler reads it; and none changes,
    /// records or publishes anything (so a keyed retry with correct arguments runs).
    /// </summary>
    [StoreFact]
    public async Task Each_documented_argument_exception_names_its_parameter_and_changes_nothing()
    {
        using var shop = CreateShop();
        await shop.AddProductAsync(1, 10, 5);
        await shop.ChargeAsync(1, 100);
        Assert.True((await shop.OrderAsync(1, (1, 1))).IsSuccess);
        var feed = shop.Services.GetRequiredService<ICommerceEventFeed>();
        var before = await shop.DescribeAllAsync(1);
        var events = (await feed.ReadAsync(EventCursor.Start, 1000)).Next;
        var key = new IdempotencyKey("argument");
        var oneLine = new[] { new OrderLineRequest(Product(1), 1) };

        var calls = new (string Parameter, Func<Task> Call)[]
        {
            ("afterSequence", async () => await shop.Wallets.GetLedgerAsync(User(1), -1)),
            ("limit", async () => await shop.Wallets.GetLedgerAsync(User(1), 0, 0)),
            ("limit", async () => await shop.Wallets.GetLedgerAsync(User(1), 0, 1001)),
            ("name", async () => await shop.Catalog.AddProductAsync(Product(2), null!, Money(1), 1)),
            ("limit", async () => await shop.Catalog.ListProductsAsync(null, 0)),
            ("limit", async () => await shop.Catalog.ListProductsAsync(Product(1), shop.Options.MaxPageSize + 1)),
            ("lines", async () => await shop.Orders.PlaceOrderAsync(User(1), null!)),
            ("lines", async () => await shop.Orders.PlaceOrderAsync(User(1), null!, key)),
            ("limit", async () => await shop.Orders.ListOrdersAsync(User(1), 0)),
            ("limit", async () => await shop.Orders.ListOrdersAsync(User(1), 1001)),
            ("count", async () => await shop.Ranking.GetPopularProductsAsync(0, TimeSpan.FromDays(1))),
            ("count", async () => await shop.Ranking.GetPopularProductsAsync(shop.Options.MaxPopularProductsCount + 1, TimeSpan.FromDays(1))),
            ("window", async () => await shop.Ranking.GetPopularProductsAsync(1, TimeSpan.Zero)),
            ("window", async () => await shop.Ranking.GetPopularProductsAsync(1, shop.Options.MaxRankingWindow + TimeSpan.FromTicks(1))),
        };

        foreach (var (parameter, call) in calls)
        {
            var thrown = Assert.IsAssignableFrom<ArgumentException>(await Record.ExceptionAsync(call));
            Assert.Equal(parameter, thrown.ParamName);
        }

        Assert.Equal(before, await shop.DescribeAllAsync(1));
        Assert.Empty((await feed.ReadAsync(events, 1000)).Events);
        Assert.True((await shop.Orders.PlaceOrderAsync(User(1), oneLine, key)).IsSuccess);
        Assert.Equal(Money(80), await shop.Wallets.GetBalanceAsync(User(1)));
    }

    [StoreFact]
    public async Task Units_sold_past_int_MaxValue_in_one_bucket_are_counted_and_a_cancel_takes_them_back()
    {
        using var shop = CreateShop(o => o.MaxLineQuantity = int.MaxValue);
        await shop.AddProductAsync(1, 0, int.MaxValue);
        var first = await shop.OrderAsync(1, (1, int.MaxValue));
        Assert.True(first.IsSuccess, first.ToString());
        Assert.True((await shop.Catalog.RestockAsync(Product(1), int.MaxValue)).IsSuccess);
        var second = await shop.OrderAsync(1, (1, int.MaxValue));
        Assert.True(second.IsSuccess, second.ToString());
        var top = await shop.Ranking.GetPopularProductsAsync(1, TimeSpan.FromDays(1));
        Assert.Equal(2L * int.MaxValue, Assert.Single(top).QuantitySold);
        Assert.True((await shop.Orders.CancelOrderAsync(first.Value.Id)).IsSuccess);
        top = await shop.Ranking.GetPopularProductsAsync(1, TimeSpan.FromDays(1));
        Assert.Equal((long)int.MaxValue, Assert.Single(top).QuantitySold);
    }

    [StoreFact]
    public async Task A_cart_with_more_products_than_an_order_may_have_is_TooManyLines_and_charges_nothing()
    {
        // Filled under a higher limit (another instance's), checked out under a lower one.
        using var shop = CreateShop(o => o.MaxOrderLines = 3);
        for (var i = 1; i <= 3; i++)
        {
            await shop.AddProductAsync(i, 1, 5);
            Assert.True((await shop.Carts.AddItemAsync(User(1), Product(i), 1)).IsSuccess);
        }

        await shop.ChargeAsync(1, 100);
        var store = shop.Services.GetRequiredService<ICommerceStore>();
        using var stricter = CreateShop(o => o.MaxOrderLines = 2, wrapStore: _ => store);
        AssertFails(await stricter.Carts.CheckoutAsync(User(1)), CommerceErrorCode.TooManyLines);
        Assert.Equal(3, (await stricter.Carts.GetCartAsync(User(1))).Lines.Count);
        Assert.Equal(Money(100), await stricter.Wallets.GetBalanceAsync(User(1)));
    }

    [StoreFact]
    public async Task A_cart_takes_no_more_products_than_an_order_may_have_and_a_refused_add_changes_nothing()
    {
        using var shop = CreateShop(o => o.MaxOrderLines = 2);
        for (var i = 1; i <= 3; i++)
        {
            await shop.AddProductAsync(i, 1, 5);
        }

        Assert.True((await shop.Carts.AddItemAsync(User(1), Product(1), 1)).IsSuccess);
        Assert.True((await shop.Carts.AddItemAsync(User(1), Product(2), 1)).IsSuccess);

        var refused = AssertFails(await shop.Carts.AddItemAsync(User(1), Product(3), 1), CommerceErrorCode.TooManyLines);
        Assert.Contains("at most 2 distinct products", refused.Message, StringComparison.Ordinal);
        var cart = await shop.Carts.GetCartAsync(User(1));
        Assert.Equal([Product(1), Product(2)], cart.Lines.Select(line => line.ProductId));
        Assert.Equal([1, 1], cart.Lines.Select(line => line.Quantity));

        // At the limit, the products it holds still take units, and a removal makes room for another.
        Assert.Equal(3, (await shop.Carts.AddItemAsync(User(1), Product(2), 2)).Value.Lines[1].Quantity);
        Assert.True((await shop.Carts.RemoveItemAsync(User(1), Product(1))).IsSuccess);
        Assert.Equal([Product(2), Product(3)], (await shop.Carts.AddItemAsync(User(1), Product(3), 1)).Value.Lines.Select(line => line.ProductId));
    }

    [StoreFact]
    public async Task Names_of_surrogate_pairs_and_combining_marks_at_the_length_limit_read_back_exactly()
    {
        using var shop = CreateShop(o => o.MaxProductNameLength = 200);
        var emoji = string.Concat(Enumerable.Repeat("\ud83c\udf75", 100));
        var combining = string.Concat(Enumerable.Repeat("e\u0301", 100));
        var zalgo = "a" + new string('\u0300', 199);
        Assert.True((await shop.Catalog.AddProductAsync(Product(1), emoji, Money(1), 1)).IsSuccess);
        Assert.True((await shop.Catalog.AddProductAsync(Product(2), combining, Money(1), 1)).IsSuccess);
        Assert.True((await shop.Catalog.AddProductAsync(Product(3), zalgo, Money(1), 1)).IsSuccess);
        AssertFails(await shop.Catalog.AddProductAsync(Product(4), emoji + "x", Money(1), 1), CommerceErrorCode.InvalidProductName);
        Assert.Equal(emoji, (await shop.Catalog.GetProductAsync(Product(1))).Value.Name);
        Assert.Equal(combining, (await shop.Catalog.GetProductAsync(Product(2))).Value.Name);
        Assert.Equal(zalgo, (await shop.Catalog.GetProductAsync(Product(3))).Value.Name);
        var list = await shop.Catalog.ListProductsAsync();
        Assert.Equal([emoji, combining, zalgo], list.Select(p => p.Name));
    }

    [StoreFact]
    public async Task A_name_limit_of_int_MaxValue_allows_a_million_character_name()
    {
        using var shop = CreateShop(o => o.MaxProductNameLength = int.MaxValue);
        var name = new string('n', 1_000_000);
        Assert.True((await shop.Catalog.AddProductAsync(Product(1), name, Money(1), 1)).IsSuccess);
        Assert.Equal(name, (await shop.Catalog.GetProductAsync(Product(1))).Value.Name);
    }

    [StoreFact]
    public async Task Orders_ranking_ledger_and_cancel_work_with_the_clock_at_DateTimeOffset_MinValue()
    {
        using var shop = CreateShop(o => o.MaxRankingWindow = TimeSpan.FromDays(3660), start: DateTimeOffset.MinValue);
        await shop.AddProductAsync(1, 10, 5);
        await shop.ChargeAsync(1, 100);
        var order = await shop.OrderAsync(1, (1, 2));
        Assert.True(order.IsSuccess, order.ToString());
        Assert.Equal(order.Value, (await shop.Orders.GetOrderAsync(order.Value.Id)).Value);
        Assert.Equal(2, Assert.Single(await shop.Ranking.GetPopularProductsAsync(1, TimeSpan.FromDays(3660))).QuantitySold);
        Assert.Equal(2, Assert.Single(await shop.Ranking.GetPopularProductsAsync(1, TimeSpan.FromMinutes(1))).QuantitySold);
        Assert.Equal(order.Value, Assert.Single(await shop.Orders.ListOrdersAsync(User(1))));
        var ledger = await shop.Wallets.GetLedgerAsync(User(1));
        Assert.Equal(DateTimeOffset.MinValue, ledger[0].At);
        var cancelled = await shop.Orders.CancelOrderAsync(order.Value.Id);
        Assert.True(cancelled.IsSuccess, cancelled.ToString());
        Assert.Empty(await shop.Ranking.GetPopularProductsAsync(1, TimeSpan.FromDays(3660)));
        Assert.Equal(Money(100), await shop.Wallets.GetBalanceAsync(User(1)));
    }

    [StoreFact]
    public async Task Orders_ranking_ledger_and_cancel_work_with_the_clock_at_DateTimeOffset_MaxValue()
    {
        using var shop = CreateShop(o => o.MaxRankingWindow = TimeSpan.FromDays(3660), start: DateTimeOffset.MaxValue);
        await shop.AddProductAsync(1, 10, 5);
        await shop.ChargeAsync(1, 100);
        var order = await shop.OrderAsync(1, (1, 2));
        Assert.True(order.IsSuccess, order.ToString());
        Assert.Equal(order.Value, (await shop.Orders.GetOrderAsync(order.Value.Id)).Value);
        Assert.Equal(2, Assert.Single(await shop.Ranking.GetPopularProductsAsync(1, TimeSpan.FromDays(3660))).QuantitySold);
        var ledger = await shop.Wallets.GetLedgerAsync(User(1));
        Assert.Equal(DateTimeOffset.MaxValue, ledger[0].At);
        var cancelled = await shop.Orders.CancelOrderAsync(order.Value.Id);
        Assert.True(cancelled.IsSuccess, cancelled.ToString());
        Assert.Equal(DateTimeOffset.MaxValue, cancelled.Value.CancelledAt);
        Assert.Equal(cancelled.Value, (await shop.Orders.GetOrderAsync(order.Value.Id)).Value);
    }

    [StoreFact]
    public async Task Prices_balances_and_refunds_at_long_MaxValue_are_refused_only_past_it()
    {
        using var shop = CreateShop(o => { o.MaxBalance = Money(long.MaxValue); o.MaxChargeAmount = Money(long.MaxValue); });
        await shop.AddProductAsync(1, long.MaxValue, 5);
        await shop.ChargeAsync(1, long.MaxValue);
        AssertFails(await shop.Wallets.ChargeAsync(User(1), Money(1)), CommerceErrorCode.BalanceLimitExceeded);
        var order = await shop.OrderAsync(1, (1, 1));
        Assert.True(order.IsSuccess, order.ToString());
        Assert.Equal(Money(long.MaxValue), order.Value.Total);
        await shop.ChargeAsync(1, 1);
        AssertFails(await shop.Orders.CancelOrderAsync(order.Value.Id), CommerceErrorCode.BalanceLimitExceeded);
        Assert.Equal(Money(1), await shop.Wallets.GetBalanceAsync(User(1)));
        Assert.Equal(4, await shop.StockOfAsync(1));
        Assert.Equal(long.MaxValue, Assert.Single(await shop.Ranking.GetPopularProductsAsync()).Price.Amount);
    }

    [StoreFact]
    public async Task Extreme_ids_order_ranking_ties_by_signed_value_in_orders_carts_and_listings()
    {
        using var shop = CreateShop();
        foreach (var id in new[] { long.MaxValue, 0, -1, long.MinValue })
        {
            await shop.AddProductAsync(id, 1, 10);
        }

        await shop.ChargeAsync(long.MinValue, 100);
        await shop.ChargeAsync(long.MaxValue, 100);
        Assert.True((await shop.OrderAsync(long.MinValue, (long.MaxValue, 1), (0, 1), (-1, 1), (long.MinValue, 1))).IsSuccess);
        Assert.Equal(new[] { long.MinValue, -1, 0, long.MaxValue }, (await shop.Ranking.GetPopularProductsAsync(10, TimeSpan.FromDays(1))).Select(p => p.ProductId.Value));
        Assert.True((await shop.Carts.AddItemAsync(User(long.MaxValue), Product(long.MinValue), 2)).IsSuccess);
        Assert.True((await shop.Carts.AddItemAsync(User(long.MaxValue), Product(long.MaxValue), 3)).IsSuccess);
        var placed = await shop.Carts.CheckoutAsync(User(long.MaxValue));
        Assert.True(placed.IsSuccess, placed.ToString());
        Assert.Equal(new[] { long.MinValue, long.MaxValue }, placed.Value.Lines.Select(l => l.ProductId.Value));
        Assert.Equal(new[] { long.MaxValue, long.MinValue, -1, 0 }, (await shop.Ranking.GetPopularProductsAsync(10, TimeSpan.FromDays(1))).Select(p => p.ProductId.Value));
        Assert.Equal(placed.Value, Assert.Single(await shop.Orders.ListOrdersAsync(User(long.MaxValue))));
    }

    [StoreFact]
    public async Task Order_ids_never_issued_are_OrderNotFound()
    {
        using var shop = CreateShop();
        AssertFails(await shop.Orders.GetOrderAsync(new OrderId(Guid.Empty)), CommerceErrorCode.OrderNotFound);
        AssertFails(await shop.Orders.CancelOrderAsync(new OrderId(Guid.Empty)), CommerceErrorCode.OrderNotFound);
        AssertFails(await shop.Orders.CancelOrderAsync(new OrderId(Guid.AllBitsSet)), CommerceErrorCode.OrderNotFound);
        AssertFails(await shop.Orders.GetOrderAsync(new OrderId(Guid.AllBitsSet)), CommerceErrorCode.OrderNotFound);
        AssertFails(await shop.Orders.GetOrderAsync(default), CommerceErrorCode.OrderNotFound);
    }

    [StoreFact]
    public async Task A_cart_line_of_int_MaxValue_checks_out_and_its_cancel_is_refused_past_int_MaxValue_stock()
    {
        using var shop = CreateShop(o => { o.MaxLineQuantity = int.MaxValue; o.MaxOrderLines = 1; });
        await shop.AddProductAsync(1, 0, int.MaxValue);
        Assert.True((await shop.Carts.AddItemAsync(User(1), Product(1), int.MaxValue)).IsSuccess);
        AssertFails(await shop.Carts.AddItemAsync(User(1), Product(1), 1), CommerceErrorCode.InvalidQuantity);
        var placed = await shop.Carts.CheckoutAsync(User(1));
        Assert.True(placed.IsSuccess, placed.ToString());
        Assert.Equal(0, await shop.StockOfAsync(1));
        AssertFails(await shop.Catalog.RestockAsync(Product(1), 0), CommerceErrorCode.InvalidQuantity);
        Assert.True((await shop.Catalog.RestockAsync(Product(1), 1)).IsSuccess);
        var cancel = await shop.Orders.CancelOrderAsync(placed.Value.Id);
        AssertFails(cancel, CommerceErrorCode.InvalidQuantity);
        Assert.Equal(1, await shop.StockOfAsync(1));
    }

    [StoreFact]
    public async Task Event_cursors_at_the_last_stripe_and_long_MaxValue_are_refused_as_ahead_without_overflow()
    {
        using var shop = CreateShop();
        await shop.AddProductAsync(1, 1, 1);
        var feed = shop.Services.GetRequiredService<ICommerceEventFeed>();
        var all = await feed.ReadAsync(EventCursor.Start, 1000);
        Assert.Single(all.Events);
        foreach (var text in new[] { "0:9223372036854775807", "1023:9223372036854775807", "0:9223372036854775806", "1023:1", "0:1,1:1,2:1,3:1,4:1,5:1,6:1,7:1,8:1,9:1,10:1,11:1,12:1,13:1,14:1,15:1,16:1,17:1,18:1,19:1,20:1,21:1,22:1,23:1,24:1,25:1,26:1,27:1,28:1,29:1,30:1,31:1,32:1,33:1,34:1,35:1,36:1,37:1,38:1,39:1,40:1,41:1,42:1,43:1,44:1,45:1,46:1,47:1,48:1,49:1,50:1,51:1,52:1,53:1,54:1,55:1,56:1,57:1,58:1,59:1,60:1,61:1,62:1,63:1,64:1",
            string.Join(",", Enumerable.Range(0, 1024).Select(i => i + ":9223372036854775807")) })
        {
            // Each covers events the store never committed (or a stripe it does not have).
            var cursor = EventCursor.Parse(text);
            Assert.Equal("after", (await Assert.ThrowsAsync<ArgumentException>(async () => await feed.ReadAsync(cursor, 1000))).ParamName);
        }

        Assert.Empty((await feed.ReadAsync(all.Next, 1000)).Events);
    }

    [StoreFact]
    public async Task A_page_size_of_int_MaxValue_lists_every_product()
    {
        using var shop = CreateShop(o => { o.MaxPageSize = int.MaxValue; o.DefaultPageSize = int.MaxValue; });
        await shop.AddProductAsync(1, 1, 1);
        await shop.AddProductAsync(2, 1, 1);
        Assert.Equal(2, (await shop.Catalog.ListProductsAsync(null, int.MaxValue)).Count);
        Assert.Equal(2, (await shop.Catalog.ListProductsAsync()).Count);
        Assert.Single(await shop.Catalog.ListProductsAsync(Product(1), int.MaxValue));
        Assert.Empty(await shop.Catalog.ListProductsAsync(Product(long.MaxValue), int.MaxValue));
    }

    [StoreFact]
    public async Task Keyed_requests_at_the_longest_key_and_extreme_ids_and_amounts_replay_their_outcome()
    {
        using var shop = CreateShop(o => { o.MaxBalance = Money(long.MaxValue); o.MaxChargeAmount = Money(long.MaxValue); o.MaxLineQuantity = int.MaxValue; });
        var key = new IdempotencyKey(new string('~', IdempotencyKey.MaxLength));
        var first = await shop.Wallets.ChargeAsync(User(long.MinValue), Money(long.MaxValue), key);
        Assert.True(first.IsSuccess, first.ToString());
        var again = await shop.Wallets.ChargeAsync(User(long.MinValue), Money(long.MaxValue), key);
        Assert.Equal(first, again);
        var over = await shop.Wallets.ChargeAsync(User(long.MinValue), Money(1), new IdempotencyKey(" "));
        AssertFails(over, CommerceErrorCode.BalanceLimitExceeded);
        AssertFails(await shop.Wallets.ChargeAsync(User(long.MinValue), Money(1), new IdempotencyKey(" ")), CommerceErrorCode.BalanceLimitExceeded);
        await shop.AddProductAsync(long.MinValue, long.MaxValue, int.MaxValue);
        var lines = new[] { new OrderLineRequest(Product(long.MinValue), 1) };
        var order = await shop.Orders.PlaceOrderAsync(User(long.MinValue), lines, key);
        Assert.True(order.IsSuccess, order.ToString());
        var reused = await shop.Orders.PlaceOrderAsync(User(long.MinValue), new[] { new OrderLineRequest(Product(long.MinValue), 2) }, key);
        AssertFails(reused, CommerceErrorCode.IdempotencyKeyReused);
        var replay = await shop.Orders.PlaceOrderAsync(User(long.MinValue), lines, key);
        Assert.Equal(order.Value, replay.Value);
        var big = await shop.Orders.PlaceOrderAsync(User(long.MaxValue), new[] { new OrderLineRequest(Product(long.MinValue), int.MaxValue) }, key);
        AssertFails(big, CommerceErrorCode.AmountOverflow);
        AssertFails(await shop.Orders.PlaceOrderAsync(User(long.MaxValue), new[] { new OrderLineRequest(Product(long.MinValue), int.MaxValue) }, key), CommerceErrorCode.AmountOverflow);
    }

    [StoreTheory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Keyed_requests_replay_with_the_clock_at_either_end_of_time_and_expire_after_the_retention(bool max)
    {
        using var shop = CreateShop(o => o.IdempotencyRetention = TimeSpan.FromDays(366), start: max ? DateTimeOffset.MaxValue : DateTimeOffset.MinValue);
        await shop.AddProductAsync(1, 10, 5);
        var charged = await shop.Wallets.ChargeAsync(User(1), Money(100), new IdempotencyKey("a"));
        Assert.True(charged.IsSuccess, charged.ToString());
        Assert.Equal(charged, await shop.Wallets.ChargeAsync(User(1), Money(100), new IdempotencyKey("a")));
        var order = await shop.Orders.PlaceOrderAsync(User(1), new[] { new OrderLineRequest(Product(1), 1) }, new IdempotencyKey("b"));
        Assert.True(order.IsSuccess, order.ToString());
        Assert.Equal(order.Value, (await shop.Orders.PlaceOrderAsync(User(1), new[] { new OrderLineRequest(Product(1), 1) }, new IdempotencyKey("b"))).Value);
        Assert.True((await shop.Carts.AddItemAsync(User(1), Product(1), 1)).IsSuccess);
        var checkout = await shop.Carts.CheckoutAsync(User(1), new IdempotencyKey("c"));
        Assert.True(checkout.IsSuccess, checkout.ToString());
        Assert.Equal(Money(80), await shop.Wallets.GetBalanceAsync(User(1)));
        shop.Time.Advance(max ? TimeSpan.Zero : TimeSpan.FromDays(400));
        var later = await shop.Wallets.ChargeAsync(User(1), Money(100), new IdempotencyKey("d"));
        Assert.True(later.IsSuccess, later.ToString());
        var repeat = await shop.Wallets.ChargeAsync(User(1), Money(100), new IdempotencyKey("a"));
        Assert.True(repeat.IsSuccess, repeat.ToString());
    }

    [StoreTheory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Events_of_extreme_values_read_back_exactly(bool max)
    {
        var at = max ? DateTimeOffset.MaxValue : DateTimeOffset.MinValue;
        using var shop = CreateShop(o => { o.MaxBalance = Money(long.MaxValue); o.MaxChargeAmount = Money(long.MaxValue); o.MaxLineQuantity = int.MaxValue; }, start: at);
        var name = string.Concat(Enumerable.Repeat("\ud83c\udf75e\u0301\u2028\u200b\"<>&'\\", 16));
        await shop.AddProductAsync(long.MinValue, long.MaxValue, int.MaxValue - 1, name);
        await shop.AddProductAsync(long.MaxValue, 0, 0, name);
        Assert.True((await shop.Catalog.RestockAsync(Product(long.MinValue), 1)).IsSuccess);
        Assert.True((await shop.Catalog.RestockAsync(Product(long.MaxValue), int.MaxValue)).IsSuccess);
        await shop.ChargeAsync(long.MinValue, long.MaxValue);
        var order = await shop.OrderAsync(long.MinValue, (long.MinValue, 1), (long.MaxValue, int.MaxValue));
        Assert.True(order.IsSuccess, order.ToString());
        Assert.True((await shop.Orders.CancelOrderAsync(order.Value.Id)).IsSuccess);
        var feed = shop.Services.GetRequiredService<ICommerceEventFeed>();
        var events = (await feed.ReadAsync(EventCursor.Start, 1000)).Events;
        var texts = events.Select(e => e.ToString().Replace("Position = " + e.Position.ToString() + ", ", "", StringComparison.Ordinal)).OrderBy(t => t, StringComparer.Ordinal).ToList();
        var lines = order.Value.Lines;
        var expected = new CommerceEvent[]
        {
            new ProductAdded(Product(long.MinValue), name, Money(long.MaxValue), int.MaxValue - 1, at),
            new ProductAdded(Product(long.MaxValue), name, Money(0), 0, at),
            new ProductRestocked(Product(long.MinValue), 1, int.MaxValue, at),
            new ProductRestocked(Product(long.MaxValue), int.MaxValue, int.MaxValue, at),
            new WalletCharged(User(long.MinValue), Money(long.MaxValue), Money(long.MaxValue), at),
            new OrderPlaced(order.Value.Id, User(long.MinValue), lines, Money(long.MaxValue), at),
            new StockDepleted(Product(long.MaxValue), order.Value.Id, at),
            new OrderCancelled(order.Value.Id, User(long.MinValue), lines, Money(long.MaxValue), at),
        }.Select(e => e.ToString().Replace("Position = " + e.Position.ToString() + ", ", "", StringComparison.Ordinal)).OrderBy(t => t, StringComparer.Ordinal).ToList();
        Assert.Equal(expected, texts);
        Assert.Equal(name, (await shop.Catalog.GetProductAsync(Product(long.MaxValue))).Value.Name);
    }

    [StoreTheory]
    [InlineData(10_000_001L, 0)]
    [InlineData(864_000_000_000L - 1, 0)]
    [InlineData(10_000_007L, 1)]
    [InlineData(864_000_000_000L - 1, 1)]
    [InlineData(10_000_007L, 2)]
    [InlineData(864_000_000_000L - 7, 2)]
    public async Task A_ranking_resolution_that_is_not_whole_microseconds_counts_and_uncounts_every_sale(long resolutionTicks, int where)
    {
        var start = where switch { 0 => TestClock.Start, 1 => DateTimeOffset.MinValue, _ => DateTimeOffset.MaxValue.AddDays(-2) };
        var resolution = TimeSpan.FromTicks(resolutionTicks);
        using var shop = CreateShop(o => { o.RankingResolution = resolution; o.MaxRankingWindow = TimeSpan.FromDays(3660); }, start: start);
        await shop.AddProductAsync(1, 1, 100);
        await shop.AddProductAsync(2, 1, 100);
        await shop.ChargeAsync(1, 1000);
        var orders = new List<Order>();
        for (var i = 0; i < 6; i++)
        {
            var placed = await shop.OrderAsync(1, (1, 1), (2, 2));
            Assert.True(placed.IsSuccess, placed.ToString());
            orders.Add(placed.Value);
            shop.Time.Advance(TimeSpan.FromTicks(resolutionTicks / 3));
        }

        Assert.Equal(new long[] { 12, 6 }, (await shop.Ranking.GetPopularProductsAsync(2, TimeSpan.FromDays(3660))).Select(p => p.QuantitySold));
        Assert.Equal(new long[] { 12, 6 }, (await shop.Ranking.GetPopularProductsAsync(2, TimeSpan.FromTicks(resolutionTicks * 3))).Select(p => p.QuantitySold));
        foreach (var order in orders)
        {
            var cancelled = await shop.Orders.CancelOrderAsync(order.Id);
            Assert.True(cancelled.IsSuccess, cancelled.ToString());
        }

        Assert.Empty(await shop.Ranking.GetPopularProductsAsync(2, TimeSpan.FromDays(3660)));
    }

    [StoreTheory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    public async Task The_ledger_of_free_and_long_MaxValue_orders_and_their_cancels_reads_the_same_everywhere(int where)
    {
        var at = where switch { 0 => TestClock.Start, 1 => DateTimeOffset.MinValue, _ => DateTimeOffset.MaxValue };
        using var shop = CreateShop(o => { o.MaxBalance = Money(long.MaxValue); o.MaxChargeAmount = Money(long.MaxValue); }, start: at);
        var user = User(where == 1 ? long.MinValue : long.MaxValue);
        await shop.AddProductAsync(1, 0, 10);
        await shop.AddProductAsync(2, long.MaxValue, 10);
        var free = await shop.Orders.PlaceOrderAsync(user, new[] { new OrderLineRequest(Product(1), 3) });
        Assert.True(free.IsSuccess, free.ToString());
        await shop.ChargeAsync(user.Value, long.MaxValue);
        var paid = await shop.Orders.PlaceOrderAsync(user, new[] { new OrderLineRequest(Product(2), 1) });
        Assert.True(paid.IsSuccess, paid.ToString());
        Assert.True((await shop.Orders.CancelOrderAsync(free.Value.Id)).IsSuccess);
        Assert.True((await shop.Orders.CancelOrderAsync(paid.Value.Id)).IsSuccess);
        AssertFails(await shop.Orders.CancelOrderAsync(paid.Value.Id), CommerceErrorCode.OrderAlreadyCancelled);
        var ledger = await shop.Wallets.GetLedgerAsync(user, 0, 1000);
        Assert.Equal(
            new LedgerEntry[]
            {
                new(1, user, LedgerEntryKind.Payment, Money(0), Money(0), free.Value.Id, at),
                new(2, user, LedgerEntryKind.Charge, Money(long.MaxValue), Money(long.MaxValue), null, at),
                new(3, user, LedgerEntryKind.Payment, Money(long.MaxValue), Money(0), paid.Value.Id, at),
                new(4, user, LedgerEntryKind.Refund, Money(long.MaxValue), Money(long.MaxValue), paid.Value.Id, at),
            },
            ledger);
        Assert.Equal(new[] { paid.Value.Id, free.Value.Id }, (await shop.Orders.ListOrdersAsync(user, 1000)).Select(o => o.Id));
        Assert.Equal(new[] { paid.Value.Id }, (await shop.Orders.ListOrdersAsync(user, 1)).Select(o => o.Id));
        Assert.Equal(ledger.Skip(2), await shop.Wallets.GetLedgerAsync(user, 2, 1000));
        Assert.Empty(await shop.Wallets.GetLedgerAsync(user, 4, 1000));
        Assert.Equal(10, await shop.StockOfAsync(1));
    }

    [StoreFact]
    public async Task Stored_refusals_naming_a_thousand_products_replay_exactly()
    {
        using var shop = CreateShop(o => o.MaxOrderLines = 1000);
        var ids = Enumerable.Range(0, 1000).Select(i => i switch { 0 => long.MinValue, 1 => long.MaxValue, _ => (long)i * -7919 }).ToArray();
        var lines = ids.Select(id => new OrderLineRequest(Product(id), 1)).ToArray();
        var key = new IdempotencyKey("k");
        var first = await shop.Orders.PlaceOrderAsync(User(1), lines, key);
        var error = AssertFails(first, CommerceErrorCode.ProductNotFound);
        Assert.Equal(ids.Order().Select(Product), error.ProductIds);
        var again = await shop.Orders.PlaceOrderAsync(User(1), lines, key);
        var replayed = AssertFails(again, CommerceErrorCode.ProductNotFound);
        Assert.Equal(error.Message, replayed.Message);
        Assert.Equal(error.ProductIds, replayed.ProductIds);

        foreach (var id in ids.Take(3))
        {
            await shop.AddProductAsync(id, 0, 0);
        }

        var shortKey = new IdempotencyKey("s");
        var stock = await shop.Orders.PlaceOrderAsync(User(1), lines.Take(3).ToArray(), shortKey);
        var shortError = AssertFails(stock, CommerceErrorCode.InsufficientStock);
        var shortAgain = AssertFails(await shop.Orders.PlaceOrderAsync(User(1), lines.Take(3).ToArray(), shortKey), CommerceErrorCode.InsufficientStock);
        Assert.Equal(shortError.Message, shortAgain.Message);
        Assert.Equal(shortError.ProductIds, shortAgain.ProductIds);
        Assert.Equal(ids.Take(3).Order().Select(Product), shortAgain.ProductIds);
    }

    [StoreTheory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Concurrent_charges_reach_MaxBalance_exactly_and_the_rest_are_BalanceLimitExceeded(bool keyed)
    {
        const int Callers = 24;
        using var shop = CreateShop(o => { o.MaxBalance = Money(long.MaxValue - 5); o.MaxChargeAmount = Money(long.MaxValue); });
        await shop.ChargeAsync(1, long.MaxValue - 5 - 12);
        var results = await Task.WhenAll(Enumerable.Range(0, Callers).Select(i => Task.Run(async () =>
            keyed ? await shop.Wallets.ChargeAsync(User(1), Money(1), new IdempotencyKey("c" + i)) : await shop.Wallets.ChargeAsync(User(1), Money(1)))));
        Assert.Equal(12, results.Count(r => r.IsSuccess));
        Assert.All(results.Where(r => !r.IsSuccess), r => Assert.Equal(CommerceErrorCode.BalanceLimitExceeded, r.Error!.Code));
        Assert.Equal(Money(long.MaxValue - 5), await shop.Wallets.GetBalanceAsync(User(1)));
        Assert.Equal(13, (await shop.Wallets.GetLedgerAsync(User(1), 0, 1000)).Count);
        Assert.Equal(
            Enumerable.Range(0, 12).Select(i => long.MaxValue - 5 - 11 + i).Order(),
            results.Where(r => r.IsSuccess).Select(r => r.Value.Amount).Order());
    }

    [StoreFact]
    public async Task Concurrent_cancels_and_restocks_stop_at_int_MaxValue_stock()
    {
        using var shop = CreateShop();
        await shop.AddProductAsync(1, 1, int.MaxValue - 20);
        await shop.ChargeAsync(1, 1000);
        var orders = new List<Order>();
        for (var i = 0; i < 8; i++)
        {
            var placed = await shop.OrderAsync(1, (1, 5));
            Assert.True(placed.IsSuccess, placed.ToString());
            orders.Add(placed.Value);
        }

        // Stock int.MaxValue - 60; eight cancels (+5 each) and four restocks (+7 each) would add 68.
        var cancels = orders.Select(o => Task.Run(async () => await shop.Orders.CancelOrderAsync(o.Id))).ToArray();
        var restocks = Enumerable.Range(0, 4).Select(_ => Task.Run(async () => await shop.Catalog.RestockAsync(Product(1), 7))).ToArray();
        var cancelled = await Task.WhenAll(cancels);
        var restocked = await Task.WhenAll(restocks);
        Assert.All(cancelled.Where(r => !r.IsSuccess), r => Assert.Equal(CommerceErrorCode.InvalidQuantity, r.Error!.Code));
        Assert.All(restocked.Where(r => !r.IsSuccess), r => Assert.Equal(CommerceErrorCode.InvalidQuantity, r.Error!.Code));
        var added = (5 * cancelled.Count(r => r.IsSuccess)) + (7 * restocked.Count(r => r.IsSuccess));
        Assert.InRange(added, 60 - 6, 60);
        Assert.Equal(int.MaxValue - 60 + added, await shop.StockOfAsync(1));
        Assert.Equal(Money(1000 - 40 + (5 * cancelled.Count(r => r.IsSuccess))), await shop.Wallets.GetBalanceAsync(User(1)));
    }

    [StoreFact]
    public async Task Names_of_noncharacters_format_characters_and_the_last_code_point_read_back_exactly()
    {
        using var shop = CreateShop();
        string[] names = ["\uffff", "\ufffe", "\udbff\udfff", "\ufeffTea", "\u200b", "\ufdd0", "\ud83f\udffe", "\u00ad", "\u061c", "a\u2029b", "\ue000"];
        for (var i = 0; i < names.Length; i++)
        {
            var added = await shop.Catalog.AddProductAsync(Product(i), names[i], Money(1), 1);
            Assert.True(added.IsSuccess, i + ": " + added);
            Assert.Equal(names[i], (await shop.Catalog.GetProductAsync(Product(i))).Value.Name);
        }
    }

    [StoreTheory]
    [InlineData(3)]
    [InlineData(8)]
    [InlineData(9)]
    [InlineData(12)]
    public async Task MaxOrderLines_products_are_allowed_after_merging_and_one_more_is_TooManyLines_on_either_validation_path(int max)
    {
        using var shop = CreateShop(o => { o.MaxOrderLines = max; o.MaxLineQuantity = 10; });
        for (var i = 1; i <= max + 1; i++)
        {
            await shop.AddProductAsync(i, 1, 100);
        }

        await shop.ChargeAsync(1, 10_000);
        var over = Enumerable.Range(1, max + 1).Select(i => ((long)i, 1)).ToArray();
        AssertFails(await shop.OrderAsync(1, over), CommerceErrorCode.TooManyLines);
        var merged = over.Append((1L, 9)).ToArray();
        AssertFails(await shop.OrderAsync(1, merged), CommerceErrorCode.TooManyLines);
        var exact = Enumerable.Range(1, max).Select(i => ((long)i, 10)).Append((1L, 0)).ToArray();
        AssertFails(await shop.OrderAsync(1, exact), CommerceErrorCode.InvalidQuantity);
        var sumOver = Enumerable.Range(1, max).Select(i => ((long)i, 10)).Append((2L, 1)).ToArray();
        AssertFails(await shop.OrderAsync(1, sumOver), CommerceErrorCode.InvalidQuantity);
        var ok = Enumerable.Range(1, max).Select(i => ((long)i, 5)).Concat(Enumerable.Range(1, max).Select(i => ((long)i, 5))).ToArray();
        var placed = await shop.OrderAsync(1, ok);
        Assert.True(placed.IsSuccess, placed.ToString());
        Assert.Equal(max, placed.Value.Lines.Count);
        Assert.All(placed.Value.Lines, l => Assert.Equal(10, l.Quantity));
        Assert.Equal(Money(10_000 - (10 * max)), await shop.Wallets.GetBalanceAsync(User(1)));
    }

    [StoreFact]
    public async Task Keys_that_differ_only_in_their_last_character_length_or_letter_case_are_distinct_keys()
    {
        using var shop = CreateShop();
        string[] keys =
        [
            new string('a', 127) + "b", new string('a', 127) + "c", new string('a', 18), new string('a', 19), new string('a', 17) + "~", " ",  "  ",
            "0f8fad5b-d9cb-469f-a165-70867728950e", "0F8FAD5B-D9CB-469F-A165-70867728950E", "0f8fad5b-d9cb-469f-a165-70867728950E", "0f8fad5bd9cb469fa16570867728950e",
            "00000000-0000-0000-0000-000000000000", "{00000000-0000-0000-0000-000000000000}", "~~~~~~~~~", "~~~~~~~~~~",
        ];
        for (var i = 0; i < keys.Length; i++)
        {
            var charged = await shop.Wallets.ChargeAsync(User(1), Money(1), new IdempotencyKey(keys[i]));
            Assert.True(charged.IsSuccess, i + ": " + charged);
            Assert.Equal(Money(i + 1), charged.Value);
        }

        for (var i = 0; i < keys.Length; i++)
        {
            Assert.Equal(Money(i + 1), (await shop.Wallets.ChargeAsync(User(1), Money(1), new IdempotencyKey(keys[i]))).Value);
            AssertFails(await shop.Wallets.ChargeAsync(User(1), Money(2), new IdempotencyKey(keys[i])), CommerceErrorCode.IdempotencyKeyReused);
        }

        Assert.Equal(Money(keys.Length), await shop.Wallets.GetBalanceAsync(User(1)));
    }
}
