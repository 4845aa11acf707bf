using Commerce.Events;
using Microsoft.Extensions.DependencyInjection;

namespace Commerce.Conformance;

/// <summary>Placing and reading orders through <see cref="IOrderService"/>: every branch, and that a refusal changes nothing.</summary>
public abstract class OrderConformanceTests : CommerceConformanceTests
{
    /// <summary>Two products (1 at 300, 10 in stock; 2 at 125, 4 in stock) and user 1 with 2,000.</summary>
    private async Task<Shop> StockedShopAsync(Action<CommerceOptions>? configure = null)
    {
        var shop = CreateShop(configure);
        await shop.AddProductAsync(1, 300, 10, "Tea");
        await shop.AddProductAsync(2, 125, 4, "Cup");
        await shop.ChargeAsync(1, 2_000);
        return shop;
    }

    /// <summary>Asserts that an order fails with a code and that nothing observable changed.</summary>
    private static async Task<CommerceError> AssertRefusedAsync(Shop shop, CommerceErrorCode code, Func<ValueTask<Result<Order>>> place)
    {
        var before = await shop.DescribeAsync(1, 2);
        var error = AssertFails(await place(), code);
        Assert.Equal(before, await shop.DescribeAsync(1, 2));
        return error;
    }

    [StoreFact]
    public async Task A_placed_order_debits_the_total_deducts_stock_and_snapshots_prices()
    {
        using var shop = await StockedShopAsync();
        shop.Time.Advance(TimeSpan.FromSeconds(42));

        var placed = await shop.OrderAsync(1, (2, 3), (1, 2));

        var order = placed.Value;
        Assert.Equal(User(1), order.UserId);
        Assert.Equal(
            [new OrderLine(Product(2), 3, Money(125)), new OrderLine(Product(1), 2, Money(300))],
            order.Lines);
        Assert.Equal([Money(375), Money(600)], order.Lines.Select(l => l.LineTotal));
        Assert.Equal(Money(975), order.Total);
        Assert.Equal(TestClock.Start.AddSeconds(42), order.PlacedAt);
        Assert.Equal(Money(2_000 - 975), await shop.Wallets.GetBalanceAsync(User(1)));
        Assert.Equal(8, await shop.StockOfAsync(1));
        Assert.Equal(1, await shop.StockOfAsync(2));
    }

    [StoreFact]
    public async Task A_placed_order_reads_back_by_id_equal_to_what_was_returned()
    {
        using var shop = await StockedShopAsync();

        var order = (await shop.OrderAsync(1, (1, 1), (2, 2))).Value;
        var read = await shop.Orders.GetOrderAsync(order.Id);

        Assert.Equal(order, read.Value);
        Assert.Equal(order.Lines, read.Value.Lines);
        Assert.Equal(order.PlacedAt, read.Value.PlacedAt);
    }

    [StoreFact]
    public async Task Each_order_gets_its_own_id_and_both_read_back()
    {
        using var shop = await StockedShopAsync();

        var first = (await shop.OrderAsync(1, (1, 1))).Value;
        var second = (await shop.OrderAsync(1, (1, 1))).Value;

        Assert.NotEqual(first.Id, second.Id);
        Assert.Equal(first, (await shop.Orders.GetOrderAsync(first.Id)).Value);
        Assert.Equal(second, (await shop.Orders.GetOrderAsync(second.Id)).Value);
    }

    [StoreFact]
    public async Task An_order_keeps_the_price_it_was_placed_at()
    {
        using var shop = await StockedShopAsync();
        var order = (await shop.OrderAsync(1, (1, 1))).Value;

        // Products cannot be repriced through the services; what the order holds must not depend on
        // later catalog reads, so re-reading it after more sales gives the same lines.
        await shop.OrderAsync(1, (1, 2));

        Assert.Equal(Money(300), Assert.Single((await shop.Orders.GetOrderAsync(order.Id)).Value.Lines).UnitPrice);
    }

    [StoreFact]
    public async Task An_order_may_spend_the_whole_balance_and_the_whole_stock()
    {
        using var shop = await StockedShopAsync();
        await shop.ChargeAsync(2, 500);

        var placed = await shop.OrderAsync(2, (2, 4));

        Assert.Equal(Money(500), placed.Value.Total);
        Assert.Equal(Money(0), await shop.Wallets.GetBalanceAsync(User(2)));
        Assert.Equal(0, await shop.StockOfAsync(2));
    }

    [StoreFact]
    public async Task A_free_order_succeeds_for_a_user_never_charged()
    {
        using var shop = CreateShop();
        await shop.AddProductAsync(5, 0, 3);

        var placed = await shop.OrderAsync(9, (5, 2));

        Assert.Equal(Money(0), placed.Value.Total);
        Assert.Equal(1, await shop.StockOfAsync(5));
        Assert.Equal(Money(0), await shop.Wallets.GetBalanceAsync(User(9)));
    }

    [StoreFact]
    public async Task Duplicate_lines_are_merged_with_summed_quantities_at_the_position_of_the_first()
    {
        using var shop = await StockedShopAsync();

        var placed = await shop.OrderAsync(1, (2, 1), (1, 2), (2, 2), (1, 1));

        Assert.Equal(
            [new OrderLine(Product(2), 3, Money(125)), new OrderLine(Product(1), 3, Money(300))],
            placed.Value.Lines);
        Assert.Equal(Money(1_275), placed.Value.Total);
        Assert.Equal(7, await shop.StockOfAsync(1));
        Assert.Equal(1, await shop.StockOfAsync(2));
    }

    [StoreFact]
    public async Task An_order_without_lines_is_EmptyOrder_and_changes_nothing()
    {
        using var shop = await StockedShopAsync();

        await AssertRefusedAsync(shop, CommerceErrorCode.EmptyOrder, () => shop.Orders.PlaceOrderAsync(User(1), []));
    }

    [StoreTheory]
    [InlineData(0)]
    [InlineData(-1)]
    [InlineData(int.MinValue)]
    public async Task A_line_quantity_that_is_not_positive_is_InvalidQuantity_and_changes_nothing(int quantity)
    {
        using var shop = await StockedShopAsync();

        await AssertRefusedAsync(shop, CommerceErrorCode.InvalidQuantity, () => shop.OrderAsync(1, (1, 1), (2, quantity)));
    }

    [StoreFact]
    public async Task A_line_quantity_above_the_limit_is_InvalidQuantity_and_changes_nothing()
    {
        using var shop = await StockedShopAsync(o => o.MaxLineQuantity = 5);

        await AssertRefusedAsync(shop, CommerceErrorCode.InvalidQuantity, () => shop.OrderAsync(1, (1, 6)));
        Assert.True((await shop.OrderAsync(1, (1, 5))).IsSuccess);
    }

    [StoreFact]
    public async Task Duplicate_lines_whose_sum_passes_the_limit_are_InvalidQuantity_and_change_nothing()
    {
        using var shop = await StockedShopAsync(o => o.MaxLineQuantity = 5);

        await AssertRefusedAsync(shop, CommerceErrorCode.InvalidQuantity, () => shop.OrderAsync(1, (1, 3), (2, 1), (1, 3)));
    }

    [StoreFact]
    public async Task Duplicate_lines_whose_sum_would_overflow_an_int_are_InvalidQuantity()
    {
        using var shop = await StockedShopAsync(o => o.MaxLineQuantity = int.MaxValue);

        await AssertRefusedAsync(shop, CommerceErrorCode.InvalidQuantity, () => shop.OrderAsync(1, (1, int.MaxValue), (1, int.MaxValue)));
    }

    [StoreFact]
    public async Task More_distinct_products_than_the_line_limit_is_TooManyLines_and_changes_nothing()
    {
        using var shop = await StockedShopAsync(o => o.MaxOrderLines = 2);
        await shop.AddProductAsync(3, 10, 10);

        await AssertRefusedAsync(shop, CommerceErrorCode.TooManyLines, () => shop.OrderAsync(1, (1, 1), (2, 1), (3, 1)));
    }

    [StoreFact]
    public async Task The_line_limit_counts_products_after_merging_duplicates()
    {
        using var shop = await StockedShopAsync(o => o.MaxOrderLines = 2);

        var placed = await shop.OrderAsync(1, (1, 1), (2, 1), (1, 1));

        Assert.Equal(2, placed.Value.Lines.Count);
    }

    [StoreFact]
    public async Task Unknown_products_are_ProductNotFound_naming_every_one_and_change_nothing()
    {
        using var shop = await StockedShopAsync();

        var error = await AssertRefusedAsync(shop, CommerceErrorCode.ProductNotFound, () => shop.OrderAsync(1, (99, 1), (1, 1), (-4, 2), (98, 1)));

        Assert.Equal([Product(-4), Product(98), Product(99)], error.ProductIds);
    }

    [StoreFact]
    public async Task A_line_total_that_overflows_is_AmountOverflow_and_changes_nothing()
    {
        using var shop = await StockedShopAsync();
        await shop.AddProductAsync(3, long.MaxValue / 2 + 1, 10);

        await AssertRefusedAsync(shop, CommerceErrorCode.AmountOverflow, () => shop.OrderAsync(1, (3, 2)));
    }

    [StoreFact]
    public async Task Unknown_products_are_reported_before_an_amount_overflow_as_documented()
    {
        using var shop = await StockedShopAsync();
        await shop.AddProductAsync(3, long.MaxValue / 2 + 1, 10);

        var error = await AssertRefusedAsync(shop, CommerceErrorCode.ProductNotFound, () => shop.OrderAsync(1, (3, 2), (99, 1)));

        Assert.Equal([Product(99)], error.ProductIds);
    }

    [StoreFact]
    public async Task An_order_total_that_overflows_is_AmountOverflow_and_changes_nothing()
    {
        using var shop = await StockedShopAsync();
        await shop.AddProductAsync(3, long.MaxValue - 5, 10);
        await shop.AddProductAsync(4, 6, 10);

        await AssertRefusedAsync(shop, CommerceErrorCode.AmountOverflow, () => shop.OrderAsync(1, (3, 1), (4, 1)));
    }

    [StoreFact]
    public async Task A_total_above_the_balance_is_InsufficientBalance_and_changes_nothing()
    {
        using var shop = await StockedShopAsync();

        await AssertRefusedAsync(shop, CommerceErrorCode.InsufficientBalance, () => shop.OrderAsync(1, (1, 6), (2, 2)));
    }

    [StoreFact]
    public async Task A_user_never_charged_is_InsufficientBalance_for_a_priced_order()
    {
        using var shop = await StockedShopAsync();

        await AssertRefusedAsync(shop, CommerceErrorCode.InsufficientBalance, () => shop.OrderAsync(2, (2, 1)));
    }

    [StoreFact]
    public async Task Short_stock_is_InsufficientStock_naming_every_short_product_and_changes_nothing()
    {
        using var shop = await StockedShopAsync();
        await shop.AddProductAsync(3, 1, 100);
        await shop.ChargeAsync(1, 1_000_000);

        var error = await AssertRefusedAsync(shop, CommerceErrorCode.InsufficientStock, () => shop.OrderAsync(1, (2, 5), (3, 1), (1, 11)));

        Assert.Equal([Product(1), Product(2)], error.ProductIds);
    }

    [StoreFact]
    public async Task Short_stock_of_a_product_with_none_left_is_InsufficientStock()
    {
        using var shop = await StockedShopAsync();
        await shop.AddProductAsync(3, 1, 0);

        var error = await AssertRefusedAsync(shop, CommerceErrorCode.InsufficientStock, () => shop.OrderAsync(1, (3, 1)));

        Assert.Equal([Product(3)], error.ProductIds);
    }

    [StoreFact]
    public async Task When_both_balance_and_stock_are_short_the_answer_is_InsufficientBalance()
    {
        using var shop = await StockedShopAsync();

        await AssertRefusedAsync(shop, CommerceErrorCode.InsufficientBalance, () => shop.OrderAsync(1, (1, 11)));
    }

    [StoreFact]
    public async Task Reading_an_unknown_order_is_OrderNotFound()
    {
        using var shop = await StockedShopAsync();
        await shop.OrderAsync(1, (1, 1));

        AssertFails(await shop.Orders.GetOrderAsync(new OrderId(Guid.NewGuid())), CommerceErrorCode.OrderNotFound);
        AssertFails(await shop.Orders.GetOrderAsync(default), CommerceErrorCode.OrderNotFound);
    }

    [StoreFact]
    public async Task Null_lines_throw_ArgumentNullException_and_change_nothing()
    {
        using var shop = await StockedShopAsync();
        var before = await shop.DescribeAsync(1);

        await Assert.ThrowsAsync<ArgumentNullException>(async () => await shop.Orders.PlaceOrderAsync(User(1), null!));

        Assert.Equal(before, await shop.DescribeAsync(1));
    }

    [StoreFact]
    public async Task A_refused_order_is_not_counted_by_the_ranking()
    {
        using var shop = await StockedShopAsync();
        await shop.OrderAsync(1, (2, 1));

        AssertFails(await shop.OrderAsync(1, (2, 4)), CommerceErrorCode.InsufficientStock);
        AssertFails(await shop.OrderAsync(1, (1, 7)), CommerceErrorCode.InsufficientBalance);

        Assert.Equal(new Dictionary<ProductId, long> { [Product(2)] = 1 }, await shop.SoldAsync());
    }

    [StoreFact]
    public async Task An_order_cancelled_before_it_starts_throws_and_changes_nothing()
    {
        using var shop = await StockedShopAsync();
        var before = await shop.DescribeAsync(1);
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
            await shop.Orders.PlaceOrderAsync(User(1), [new OrderLineRequest(Product(1), 1)], cancelled.Token));

        Assert.Equal(before, await shop.DescribeAsync(1));
    }

    [StoreFact]
    public async Task A_clock_before_1970_places_checks_out_and_cancels_orders_stamped_with_its_time()
    {
        // An order id carries milliseconds since 1970 (a version 7 GUID), which cannot be negative.
        var clock = new DateTimeOffset(1969, 7, 20, 20, 17, 0, TimeSpan.Zero);
        using var shop = CreateShop(start: clock);
        await shop.AddProductAsync(1, 300, 10, "Tea");
        await shop.ChargeAsync(1, 2_000);

        var first = await shop.OrderAsync(1, (1, 2));
        var second = await shop.OrderAsync(1, (1, 1));
        Assert.True((await shop.Carts.AddItemAsync(User(1), Product(1), 1)).IsSuccess);
        var checkedOut = await shop.Carts.CheckoutAsync(User(1));
        var cancelled = await shop.Orders.CancelOrderAsync(first.Value.Id);

        Assert.True(first.IsSuccess && second.IsSuccess && checkedOut.IsSuccess && cancelled.IsSuccess, $"{first} {second} {checkedOut} {cancelled}");
        Assert.Equal(3, new[] { first.Value.Id, second.Value.Id, checkedOut.Value.Id }.Distinct().Count());
        Assert.Equal((clock, (DateTimeOffset?)clock), (first.Value.PlacedAt, cancelled.Value.CancelledAt));
        Assert.Equal(cancelled.Value, (await shop.Orders.GetOrderAsync(first.Value.Id)).Value);
        Assert.Equal(Money(2_000 - 900 - 300 + 600), await shop.Wallets.GetBalanceAsync(User(1)));
        Assert.Equal(8, (await shop.Catalog.GetProductAsync(Product(1))).Value.Stock);
    }

    [StoreFact]
    public async Task Instants_from_a_clock_with_an_offset_are_kept_in_UTC_and_read_back_as_they_were_returned()
    {
        // TimeProvider.GetUtcNow is meant to be UTC, but a provider may return an offset (FakeTimeProvider keeps the
        // one it was started with). A store that keeps instants (PostgreSQL's timestamptz) keeps no offset.
        var clock = new DateTimeOffset(2026, 11, 24, 17, 0, 0, TimeSpan.FromHours(5)).AddTicks(1_234_567);
        using var shop = CreateShop(start: clock);
        await shop.AddProductAsync(1, 300, 10, "Tea");
        await shop.ChargeAsync(1, 2_000);
        var placed = (await shop.OrderAsync(1, (1, 2))).Value;
        shop.Time.Advance(TimeSpan.FromSeconds(1));
        var cancelled = (await shop.Orders.CancelOrderAsync(placed.Id)).Value;
        var replayed = (await shop.Wallets.ChargeAsync(User(1), Money(5), new IdempotencyKey("k"))).Value;

        var read = (await shop.Orders.GetOrderAsync(placed.Id)).Value;
        var listed = Assert.Single(await shop.Orders.ListOrdersAsync(User(1)));
        var ledger = await shop.Wallets.GetLedgerAsync(User(1));
        var events = (await shop.Services.GetRequiredService<ICommerceEventFeed>().ReadAsync(EventCursor.Start, 100)).Events;

        static string Text(DateTimeOffset? at) => at?.ToString("o", System.Globalization.CultureInfo.InvariantCulture) ?? "none";
        var utc = clock.ToUniversalTime();
        Assert.Equal((Text(utc), Text(utc.AddSeconds(1))), (Text(placed.PlacedAt), Text(cancelled.CancelledAt)));
        Assert.Equal((Text(placed.PlacedAt), Text(cancelled.CancelledAt)), (Text(read.PlacedAt), Text(read.CancelledAt)));
        Assert.Equal((Text(placed.PlacedAt), Text(cancelled.CancelledAt)), (Text(listed.PlacedAt), Text(listed.CancelledAt)));
        Assert.Equal([Text(utc), Text(utc), Text(utc.AddSeconds(1)), Text(utc.AddSeconds(1))], ledger.Select(e => Text(e.At)));
        Assert.All(events, e => Assert.Equal(TimeSpan.Zero, e.At.Offset));
        Assert.Equal(Money(2_005), replayed);
    }

    [StoreTheory]
    [InlineData(false, "zero")]
    [InlineData(false, "negative")]
    [InlineData(false, "above the limit")]
    [InlineData(false, "emptied")]
    [InlineData(false, "a product twice")]
    [InlineData(false, "a product twice, the first line taking its last units")]
    [InlineData(true, "zero")]
    [InlineData(true, "negative")]
    [InlineData(true, "above the limit")]
    [InlineData(true, "emptied")]
    [InlineData(true, "a product twice")]
    [InlineData(true, "a product twice, the first line taking its last units")]
    public async Task Lines_that_change_after_they_were_validated_throw_InvalidOperationException_and_nothing_changes(bool keyed, string change)
    {
        // The caller's list is read again once the store is opened (a list another thread changes, or one that
        // answers differently each time): what it holds then was never validated, and must not be placed.
        OrderLineRequest[] then = change switch
        {
            "zero" => [new(Product(1), 2), new(Product(2), 0)],
            "negative" => [new(Product(1), 2), new(Product(2), -3)],
            "above the limit" => [new(Product(1), 2), new(Product(2), 11)],
            "a product twice" => [new(Product(1), 2), new(Product(1), 3)],
            "a product twice, the first line taking its last units" => [new(Product(2), 4), new(Product(2), 1)],
            _ => [],
        };
        var changing = new ChangingLines([new(Product(1), 2), new(Product(2), 3)], then);
        using var shop = CreateShop(o => o.MaxLineQuantity = 10, wrapStore: inner => new OnOpenStore(inner, changing.Change));
        await shop.AddProductAsync(1, 300, 10, "Tea");
        await shop.AddProductAsync(2, 125, 4, "Cup");
        await shop.ChargeAsync(1, 2_000);
        var before = await shop.DescribeAllAsync(1);
        changing.Armed = true;

        var error = await Assert.ThrowsAsync<InvalidOperationException>(async () => _ = keyed
            ? await shop.Orders.PlaceOrderAsync(User(1), changing, new IdempotencyKey("k"))
            : await shop.Orders.PlaceOrderAsync(User(1), changing));

        Assert.StartsWith("The order's lines changed while the order was placed", error.Message, StringComparison.Ordinal);

        changing.Armed = false;
        Assert.Equal(before, await shop.DescribeAllAsync(1));
        Assert.Equal(4, await shop.StockOfAsync(2));
    }

    [StoreTheory]
    [InlineData(1)]
    [InlineData(3)]
    public async Task An_order_reads_the_callers_lines_once_after_they_were_validated(int count)
    {
        // What is placed is what the use case asked the store for: the list is read once (its count, then each line)
        // once the store is opened, so a list that changes meanwhile cannot place a line that was not read with the rest.
        var lines = new CountingLines([.. Enumerable.Range(1, count).Select(p => new OrderLineRequest(Product(p), 2))]);
        using var shop = CreateShop(wrapStore: inner => new OnOpenStore(inner, () => lines.Counting |= lines.Armed));
        for (var p = 1; p <= count; p++)
        {
            await shop.AddProductAsync(p, 100 * p, 10, "Product " + p);
        }

        await shop.ChargeAsync(1, 10_000);
        lines.Armed = true;

        var placed = await shop.Orders.PlaceOrderAsync(User(1), lines);
        lines.Counting = false;

        Assert.True(placed.IsSuccess, placed.ToString());
        Assert.Equal(lines.Items.Select(l => (l.ProductId, l.Quantity)), placed.Value.Lines.Select(l => (l.ProductId, l.Quantity)));
        Assert.Equal((1, count), (lines.CountReads, lines.ItemReads));
    }

    /// <summary>Lines that count how often they are read while <see cref="Counting"/> (set when a store opens while <see cref="Armed"/>).</summary>
    private sealed class CountingLines(OrderLineRequest[] items) : IReadOnlyList<OrderLineRequest>
    {
        public OrderLineRequest[] Items => items;

        public bool Armed { get; set; }

        public bool Counting { get; set; }

        public int CountReads { get; private set; }

        public int ItemReads { get; private set; }

        public int Count
        {
            get
            {
                CountReads += Counting ? 1 : 0;
                return items.Length;
            }
        }

        public OrderLineRequest this[int index]
        {
            get
            {
                ItemReads += Counting ? 1 : 0;
                return items[index];
            }
        }

        public IEnumerator<OrderLineRequest> GetEnumerator()
        {
            ItemReads += Counting ? items.Length : 0;
            return ((IEnumerable<OrderLineRequest>)items).GetEnumerator();
        }

        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
    }

    /// <summary>Lines that read as <c>first</c> until <see cref="Change"/> is called while <see cref="Armed"/>, then as <c>then</c>.</summary>
    private sealed class ChangingLines(OrderLineRequest[] first, OrderLineRequest[] then) : IReadOnlyList<OrderLineRequest>
    {
        private volatile bool _changed;

        public bool Armed { get; set; }

        public int Count => Current.Length;

        private OrderLineRequest[] Current => _changed ? then : first;

        public OrderLineRequest this[int index] => Current[index];

        public void Change() => _changed |= Armed;

        public IEnumerator<OrderLineRequest> GetEnumerator() => ((IEnumerable<OrderLineRequest>)Current).GetEnumerator();

        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
    }

    /// <summary>A store that runs a hook each time a session is opened, then opens the inner store's.</summary>
    private sealed class OnOpenStore(Commerce.Storage.ICommerceStore inner, Action opened) : Commerce.Storage.ICommerceStore
    {
        public ValueTask<Commerce.Storage.IStoreSession> OpenSessionAsync(CancellationToken cancellationToken = default)
        {
            opened();
            return inner.OpenSessionAsync(cancellationToken);
        }
    }
}
