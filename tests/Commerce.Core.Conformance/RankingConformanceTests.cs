namespace Commerce.Conformance;

/// <summary>
/// The best-sellers ranking through <see cref="ISalesRankingService"/>: defaults, count and window per
/// call, ordering, committed orders only, and the exact edges of the documented window (buckets of
/// <see cref="CommerceOptions.RankingResolution"/>; a query covers the bucket holding now and the
/// ceil(W / R) − 1 buckets before it).
/// </summary>
public abstract class RankingConformanceTests : CommerceConformanceTests
{
    private const long Buyer = 1;

    /// <summary>A shop whose products 1..<paramref name="products"/> cost 1 each with plenty of stock, and a rich buyer.</summary>
    private async Task<Shop> ShopAsync(int products, Action<CommerceOptions>? configure = null, DateTimeOffset? start = null)
    {
        var shop = CreateShop(configure, start);
        for (var id = 1; id <= products; id++)
        {
            await shop.AddProductAsync(id, 1, 1_000_000, $"P{id}");
        }

        await shop.ChargeAsync(Buyer, 1_000_000);
        return shop;
    }

    private static async Task SellAsync(Shop shop, long product, int quantity)
    {
        var placed = await shop.OrderAsync(Buyer, (product, quantity));
        Assert.True(placed.IsSuccess, placed.ToString());
    }

    private static async Task<long[]> DefaultRankingIdsAsync(Shop shop) =>
        (await shop.Ranking.GetPopularProductsAsync()).Select(p => p.ProductId.Value).ToArray();

    [StoreFact]
    public async Task The_default_ranking_is_the_top_five_by_units_sold_with_ranks_one_to_five()
    {
        using var shop = await ShopAsync(7);
        var sold = new Dictionary<long, int> { [1] = 3, [2] = 9, [3] = 1, [4] = 7, [5] = 5, [6] = 8, [7] = 2 };
        foreach (var (product, quantity) in sold)
        {
            await SellAsync(shop, product, quantity);
        }

        var ranking = await shop.Ranking.GetPopularProductsAsync();

        Assert.Equal(
            [
                new PopularProduct(1, Product(2), "P2", Money(1), 9),
                new PopularProduct(2, Product(6), "P6", Money(1), 8),
                new PopularProduct(3, Product(4), "P4", Money(1), 7),
                new PopularProduct(4, Product(5), "P5", Money(1), 5),
                new PopularProduct(5, Product(1), "P1", Money(1), 3),
            ],
            ranking);
    }

    [StoreFact]
    public async Task Units_from_several_orders_and_lines_add_up()
    {
        using var shop = await ShopAsync(3);
        await shop.OrderAsync(Buyer, (1, 2), (2, 1));
        await shop.OrderAsync(Buyer, (1, 3));
        await shop.OrderAsync(Buyer, (2, 1), (2, 1));

        Assert.Equal(new Dictionary<ProductId, long> { [Product(1)] = 5, [Product(2)] = 3 }, await shop.SoldAsync());
    }

    [StoreFact]
    public async Task With_no_sales_the_ranking_is_empty_and_unsold_products_are_not_listed()
    {
        using var shop = await ShopAsync(3);
        Assert.Empty(await shop.Ranking.GetPopularProductsAsync());

        await SellAsync(shop, 2, 1);

        Assert.Equal(new long[] { 2 }, await DefaultRankingIdsAsync(shop));
    }

    [StoreFact]
    public async Task Ties_are_ordered_by_lower_product_id_and_ranks_stay_consecutive()
    {
        using var shop = await ShopAsync(5);
        foreach (var product in new long[] { 5, 3, 1, 4 })
        {
            await SellAsync(shop, product, 2);
        }

        await SellAsync(shop, 2, 7);

        var ranking = await shop.Ranking.GetPopularProductsAsync();

        Assert.Equal(new long[] { 2, 1, 3, 4, 5 }, ranking.Select(p => p.ProductId.Value));
        Assert.Equal([1, 2, 3, 4, 5], ranking.Select(p => p.Rank));
    }

    [StoreFact]
    public async Task The_count_per_call_limits_the_entries()
    {
        using var shop = await ShopAsync(8);
        for (var product = 1; product <= 8; product++)
        {
            await SellAsync(shop, product, product);
        }

        Assert.Equal(new long[] { 8, 7 }, (await shop.Ranking.GetPopularProductsAsync(2, TimeSpan.FromDays(1))).Select(p => p.ProductId.Value));
        Assert.Equal(8, (await shop.Ranking.GetPopularProductsAsync(100, TimeSpan.FromDays(1))).Count);
        Assert.Equal([1, 2, 3, 4, 5, 6, 7, 8], (await shop.Ranking.GetPopularProductsAsync(8, TimeSpan.FromDays(1))).Select(p => p.Rank));
    }

    [StoreFact]
    public async Task A_count_up_to_a_maximum_of_int_MaxValue_lists_every_product_sold()
    {
        using var shop = await ShopAsync(2, o => o.MaxPopularProductsCount = int.MaxValue);
        await SellAsync(shop, 1, 2);
        await SellAsync(shop, 2, 1);
        Assert.Equal(new long[] { 1, 2 }, (await shop.Ranking.GetPopularProductsAsync(int.MaxValue, TimeSpan.FromDays(1))).Select(p => p.ProductId.Value));

        // A sale in a bucket an earlier query already read.
        await SellAsync(shop, 2, 2);
        Assert.Equal(new long[] { 2, 1 }, (await shop.Ranking.GetPopularProductsAsync(int.MaxValue, TimeSpan.FromDays(1))).Select(p => p.ProductId.Value));
    }

    [StoreFact]
    public async Task The_window_per_call_decides_which_sales_count()
    {
        using var shop = await ShopAsync(2);
        await SellAsync(shop, 1, 10);
        shop.Time.Advance(TimeSpan.FromHours(2));
        await SellAsync(shop, 2, 1);

        Assert.Equal(new long[] { 2 }, (await shop.Ranking.GetPopularProductsAsync(5, TimeSpan.FromHours(1))).Select(p => p.ProductId.Value));
        Assert.Equal(new long[] { 1, 2 }, (await shop.Ranking.GetPopularProductsAsync(5, TimeSpan.FromHours(3))).Select(p => p.ProductId.Value));
    }

    [StoreFact]
    public async Task The_configured_defaults_apply_to_the_parameterless_query()
    {
        using var shop = await ShopAsync(4, o =>
        {
            o.PopularProductsCount = 2;
            o.PopularProductsWindow = TimeSpan.FromHours(1);
        });
        await SellAsync(shop, 1, 10);
        shop.Time.Advance(TimeSpan.FromHours(1));
        await SellAsync(shop, 2, 1);
        await SellAsync(shop, 3, 2);
        await SellAsync(shop, 4, 3);

        Assert.Equal(new long[] { 4, 3 }, await DefaultRankingIdsAsync(shop));
    }

    [StoreFact]
    public async Task Refused_orders_are_never_counted()
    {
        using var shop = CreateShop();
        await shop.AddProductAsync(1, 10, 5);
        await shop.AddProductAsync(2, 10, 5);
        await shop.ChargeAsync(1, 100);

        AssertFails(await shop.OrderAsync(1, (1, 6)), CommerceErrorCode.InsufficientStock);
        AssertFails(await shop.OrderAsync(2, (1, 1)), CommerceErrorCode.InsufficientBalance);
        AssertFails(await shop.OrderAsync(1, (1, 1), (3, 1)), CommerceErrorCode.ProductNotFound);
        Assert.True((await shop.OrderAsync(1, (2, 2))).IsSuccess);

        Assert.Equal(new Dictionary<ProductId, long> { [Product(2)] = 2 }, await shop.SoldAsync());
    }

    [StoreFact]
    public async Task A_sale_at_the_first_instant_of_the_oldest_bucket_counts_and_one_tick_earlier_does_not()
    {
        var oldestBucketStart = TestClock.Start;
        using var shop = await ShopAsync(2, start: oldestBucketStart.AddTicks(-1));
        await SellAsync(shop, 2, 1);                        // one tick before the oldest covered bucket
        shop.Time.Advance(TimeSpan.FromTicks(1));
        await SellAsync(shop, 1, 1);                        // first instant of the oldest covered bucket

        // Three days of one-minute buckets later, minus a tick: the current bucket is the 4,320th.
        shop.Time.SetUtcNow(oldestBucketStart + TimeSpan.FromDays(3) - TimeSpan.FromTicks(1));
        Assert.Equal(new long[] { 1 }, await DefaultRankingIdsAsync(shop));

        // One tick later a new bucket starts and the oldest one leaves the window.
        shop.Time.Advance(TimeSpan.FromTicks(1));
        Assert.Empty(await shop.Ranking.GetPopularProductsAsync());
    }

    [StoreFact]
    public async Task A_sale_in_the_last_instant_of_the_current_bucket_counts_and_one_after_its_end_does_not()
    {
        var bucketEnd = TestClock.Start.AddMinutes(1);
        using var shop = await ShopAsync(2, start: bucketEnd.AddTicks(-1));
        await SellAsync(shop, 1, 1);                        // the last instant of the current bucket
        Assert.Equal(new long[] { 1 }, await DefaultRankingIdsAsync(shop));

        shop.Time.Advance(TimeSpan.FromTicks(1));
        await SellAsync(shop, 2, 1);                        // the first instant of the next bucket

        // A clock set back (for example by the host) sees the later sale as in the future: not counted.
        shop.Time.AdjustTime(bucketEnd.AddTicks(-1));
        Assert.Equal(new long[] { 1 }, await DefaultRankingIdsAsync(shop));

        shop.Time.AdjustTime(bucketEnd);
        Assert.Equal(new long[] { 1, 2 }, await DefaultRankingIdsAsync(shop));
    }

    [StoreFact]
    public async Task A_sale_in_the_last_bucket_before_DateTimeOffset_MaxValue_counts()
    {
        // The bucket holding the last representable instant ends after it: the covered interval's end cannot be
        // named as a DateTimeOffset, yet the current bucket is still covered.
        using var shop = await ShopAsync(1, start: DateTimeOffset.MaxValue.AddSeconds(-30));
        await SellAsync(shop, 1, 3);

        Assert.Equal(3, Assert.Single(await shop.Ranking.GetPopularProductsAsync()).QuantitySold);

        shop.Time.SetUtcNow(DateTimeOffset.MaxValue);
        Assert.Equal(3, Assert.Single(await shop.Ranking.GetPopularProductsAsync(5, TimeSpan.FromMinutes(1))).QuantitySold);
    }

    [StoreFact]
    public async Task A_window_that_is_not_a_whole_number_of_buckets_is_rounded_up_to_whole_buckets()
    {
        // R = 1 minute, W = 90 seconds: the current bucket and one before it.
        using var shop = await ShopAsync(1);
        await SellAsync(shop, 1, 1);
        var window = TimeSpan.FromSeconds(90);

        shop.Time.Advance(TimeSpan.FromMinutes(2) - TimeSpan.FromTicks(1));
        Assert.Single(await shop.Ranking.GetPopularProductsAsync(5, window));

        shop.Time.Advance(TimeSpan.FromTicks(1));
        Assert.Empty(await shop.Ranking.GetPopularProductsAsync(5, window));
    }

    [StoreFact]
    public async Task A_coarser_resolution_counts_whole_buckets()
    {
        // R = 1 hour, W = 1 hour: exactly the hour holding now.
        using var shop = await ShopAsync(1, o => o.RankingResolution = TimeSpan.FromHours(1));
        shop.Time.Advance(TimeSpan.FromMinutes(10));
        await SellAsync(shop, 1, 4);
        var window = TimeSpan.FromHours(1);

        shop.Time.Advance(TimeSpan.FromMinutes(50) - TimeSpan.FromTicks(1));
        Assert.Equal(4, Assert.Single(await shop.Ranking.GetPopularProductsAsync(5, window)).QuantitySold);

        shop.Time.Advance(TimeSpan.FromTicks(1));
        Assert.Empty(await shop.Ranking.GetPopularProductsAsync(5, window));
    }

    [StoreFact]
    public async Task Sales_before_and_after_a_query_time_are_counted_in_their_own_buckets()
    {
        using var shop = await ShopAsync(1);
        await SellAsync(shop, 1, 1);
        shop.Time.Advance(TimeSpan.FromDays(1));
        await SellAsync(shop, 1, 2);
        shop.Time.Advance(TimeSpan.FromDays(1));
        await SellAsync(shop, 1, 4);

        Assert.Equal(7, Assert.Single(await shop.Ranking.GetPopularProductsAsync()).QuantitySold);
        Assert.Equal(4, Assert.Single(await shop.Ranking.GetPopularProductsAsync(5, TimeSpan.FromHours(1))).QuantitySold);
        Assert.Equal(6, Assert.Single(await shop.Ranking.GetPopularProductsAsync(5, TimeSpan.FromDays(1.5))).QuantitySold);
    }

    [StoreTheory]
    [InlineData(0)]
    [InlineData(-1)]
    [InlineData(101)]
    public async Task A_count_outside_one_to_the_maximum_throws_ArgumentOutOfRangeException(int count)
    {
        using var shop = await ShopAsync(1);

        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await shop.Ranking.GetPopularProductsAsync(count, TimeSpan.FromDays(1)));
    }

    [StoreTheory]
    [InlineData(0L)]
    [InlineData(-1L)]
    [InlineData(366L * TimeSpan.TicksPerDay + 1)]
    public async Task A_window_that_is_not_positive_or_above_the_maximum_throws_ArgumentOutOfRangeException(long windowTicks)
    {
        using var shop = await ShopAsync(1);

        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await shop.Ranking.GetPopularProductsAsync(5, TimeSpan.FromTicks(windowTicks)));
        Assert.Empty(await shop.Ranking.GetPopularProductsAsync(5, TimeSpan.FromDays(366)));
    }
}
