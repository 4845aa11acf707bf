namespace Commerce.Conformance;

/// <summary>Adding, restocking, reading and listing products through <see cref="ICatalogService"/>.</summary>
public abstract class CatalogConformanceTests : CommerceConformanceTests
{
    [StoreFact]
    public async Task Adding_a_product_returns_it_and_it_can_be_read_back()
    {
        using var shop = CreateShop();

        var added = await shop.Catalog.AddProductAsync(Product(7), "Green tea", Money(350), 12);

        var expected = new ProductSummary(Product(7), "Green tea", Money(350), 12);
        Assert.Equal(expected, added.Value);
        Assert.Equal(expected, (await shop.Catalog.GetProductAsync(Product(7))).Value);
    }

    [StoreFact]
    public async Task Zero_price_and_zero_stock_are_allowed()
    {
        using var shop = CreateShop();

        var added = await shop.Catalog.AddProductAsync(Product(1), "Free sample", Money(0), 0);

        Assert.Equal(new ProductSummary(Product(1), "Free sample", Money(0), 0), added.Value);
        Assert.Equal(0, await shop.StockOfAsync(1));
    }

    [StoreFact]
    public async Task Adding_an_existing_id_is_ProductAlreadyExists_and_keeps_the_first_product()
    {
        using var shop = CreateShop();
        await shop.AddProductAsync(1, 100, 5, "Original");

        var again = await shop.Catalog.AddProductAsync(Product(1), "Impostor", Money(1), 99);

        var error = AssertFails(again, CommerceErrorCode.ProductAlreadyExists);
        Assert.Equal([Product(1)], error.ProductIds);
        Assert.Equal(new ProductSummary(Product(1), "Original", Money(100), 5), (await shop.Catalog.GetProductAsync(Product(1))).Value);
        Assert.Single(await shop.Catalog.ListProductsAsync());
    }

    [StoreTheory]
    [InlineData("")]
    [InlineData(" ")]
    [InlineData("\t\r\n ")]
    public async Task An_empty_or_white_space_name_is_InvalidProductName_and_adds_nothing(string name)
    {
        using var shop = CreateShop();

        var result = await shop.Catalog.AddProductAsync(Product(1), name, Money(10), 1);

        AssertFails(result, CommerceErrorCode.InvalidProductName);
        AssertFails(await shop.Catalog.GetProductAsync(Product(1)), CommerceErrorCode.ProductNotFound);
    }

    [StoreFact]
    public async Task A_name_longer_than_the_limit_is_InvalidProductName_and_the_limit_itself_is_allowed()
    {
        using var shop = CreateShop(o => o.MaxProductNameLength = 10);

        var tooLong = await shop.Catalog.AddProductAsync(Product(1), new string('x', 11), Money(10), 1);
        var atLimit = await shop.Catalog.AddProductAsync(Product(2), new string('y', 10), Money(10), 1);

        AssertFails(tooLong, CommerceErrorCode.InvalidProductName);
        AssertFails(await shop.Catalog.GetProductAsync(Product(1)), CommerceErrorCode.ProductNotFound);
        Assert.Equal(new string('y', 10), atLimit.Value.Name);
    }

    [StoreFact]
    public async Task A_name_with_a_control_character_or_an_unpaired_surrogate_is_InvalidProductName_and_adds_nothing()
    {
        using var shop = CreateShop();
        string[] names =
        [
            "Tea\0", "\0", "Green\u0007tea", "Line\nbreak", "Tab\there", "Esc\u001b[31mRed", "Del\u007f", "Next\u0085line",
            "Half \ud83c", "\udf75 half", "Swapped \udf75\ud83c",
        ];

        for (var i = 0; i < names.Length; i++)
        {
            var result = await shop.Catalog.AddProductAsync(Product(i + 1), names[i], Money(10), 1);
            Assert.True(result.IsFailure, $"name #{i} was accepted");
            Assert.Equal(CommerceErrorCode.InvalidProductName, result.Error.Code);
        }

        Assert.Empty(await shop.Catalog.ListProductsAsync());
    }

    [StoreFact]
    public async Task A_name_with_accents_symbols_and_characters_outside_the_basic_plane_is_stored_as_given()
    {
        using var shop = CreateShop();
        const string Name = "Th\u00e9 vert \u2615 \ud83c\udf75 \u00bd kg";

        var added = await shop.Catalog.AddProductAsync(Product(1), Name, Money(10), 1);

        Assert.Equal(Name, added.Value.Name);
        Assert.Equal(Name, (await shop.Catalog.GetProductAsync(Product(1))).Value.Name);
    }

    [StoreFact]
    public async Task A_negative_price_is_InvalidAmount_and_adds_nothing()
    {
        using var shop = CreateShop();

        var result = await shop.Catalog.AddProductAsync(Product(1), "Tea", Money(-1), 1);

        AssertFails(result, CommerceErrorCode.InvalidAmount);
        Assert.Empty(await shop.Catalog.ListProductsAsync());
    }

    [StoreFact]
    public async Task A_negative_initial_stock_is_InvalidQuantity_and_adds_nothing()
    {
        using var shop = CreateShop();

        var result = await shop.Catalog.AddProductAsync(Product(1), "Tea", Money(10), -1);

        AssertFails(result, CommerceErrorCode.InvalidQuantity);
        Assert.Empty(await shop.Catalog.ListProductsAsync());
    }

    [StoreFact]
    public async Task A_null_name_throws_ArgumentNullException()
    {
        using var shop = CreateShop();

        await Assert.ThrowsAsync<ArgumentNullException>(async () => await shop.Catalog.AddProductAsync(Product(1), null!, Money(10), 1));
        Assert.Empty(await shop.Catalog.ListProductsAsync());
    }

    [StoreFact]
    public async Task Restocking_adds_units_and_returns_the_new_stock()
    {
        using var shop = CreateShop();
        await shop.AddProductAsync(1, 100, 5, "Tea");

        var restocked = await shop.Catalog.RestockAsync(Product(1), 7);

        Assert.Equal(new ProductSummary(Product(1), "Tea", Money(100), 12), restocked.Value);
        Assert.Equal(12, await shop.StockOfAsync(1));
    }

    [StoreTheory]
    [InlineData(0)]
    [InlineData(-1)]
    [InlineData(int.MinValue)]
    public async Task Restocking_a_quantity_that_is_not_positive_is_InvalidQuantity_and_changes_nothing(int quantity)
    {
        using var shop = CreateShop();
        await shop.AddProductAsync(1, 100, 5);

        var result = await shop.Catalog.RestockAsync(Product(1), quantity);

        AssertFails(result, CommerceErrorCode.InvalidQuantity);
        Assert.Equal(5, await shop.StockOfAsync(1));
    }

    [StoreFact]
    public async Task Restocking_past_int_MaxValue_is_InvalidQuantity_and_reaching_it_exactly_is_allowed()
    {
        using var shop = CreateShop();
        await shop.AddProductAsync(1, 100, int.MaxValue - 10);

        var over = await shop.Catalog.RestockAsync(Product(1), 11);
        Assert.Equal(int.MaxValue - 10, await shop.StockOfAsync(1));
        var exact = await shop.Catalog.RestockAsync(Product(1), 10);

        AssertFails(over, CommerceErrorCode.InvalidQuantity);
        Assert.Equal(int.MaxValue, exact.Value.Stock);
    }

    [StoreFact]
    public async Task Restocking_an_unknown_product_is_ProductNotFound_and_creates_nothing()
    {
        using var shop = CreateShop();

        var result = await shop.Catalog.RestockAsync(Product(9), 5);

        var error = AssertFails(result, CommerceErrorCode.ProductNotFound);
        Assert.Equal([Product(9)], error.ProductIds);
        AssertFails(await shop.Catalog.GetProductAsync(Product(9)), CommerceErrorCode.ProductNotFound);
    }

    [StoreFact]
    public async Task Reading_an_unknown_product_is_ProductNotFound_naming_it()
    {
        using var shop = CreateShop();
        await shop.AddProductAsync(1, 100, 5);

        var error = AssertFails(await shop.Catalog.GetProductAsync(Product(2)), CommerceErrorCode.ProductNotFound);

        Assert.Equal([Product(2)], error.ProductIds);
    }

    [StoreFact]
    public async Task Listing_an_empty_catalog_returns_an_empty_page()
    {
        using var shop = CreateShop();

        Assert.Empty(await shop.Catalog.ListProductsAsync());
        Assert.Empty(await shop.Catalog.ListProductsAsync(null, 10));
        Assert.Empty(await shop.Catalog.ListProductsAsync(Product(5), 10));
    }

    [StoreFact]
    public async Task Listing_returns_the_first_default_sized_page_in_ascending_id_order_with_stock()
    {
        using var shop = CreateShop(o => o.DefaultPageSize = 4);
        foreach (var id in new long[] { 50, -3, 7, 1000, 2, 49 })
        {
            await shop.AddProductAsync(id, id + 5000, (int)(id + 100));
        }

        var page = await shop.Catalog.ListProductsAsync();

        Assert.Equal(new long[] { -3, 2, 7, 49 }, page.Select(p => p.Id.Value));
        Assert.All(page, p => Assert.Equal(new ProductSummary(p.Id, $"Product {p.Id}", Money(p.Id.Value + 5000), (int)(p.Id.Value + 100)), p));
    }

    [StoreFact]
    public async Task The_default_page_size_is_twenty()
    {
        using var shop = CreateShop();
        for (var id = 1; id <= 25; id++)
        {
            await shop.AddProductAsync(id, 10, 1);
        }

        var page = await shop.Catalog.ListProductsAsync();

        Assert.Equal(Enumerable.Range(1, 20).Select(i => (long)i), page.Select(p => p.Id.Value));
    }

    [StoreFact]
    public async Task Keyset_paging_visits_every_product_exactly_once_in_ascending_order()
    {
        using var shop = CreateShop();
        var ids = Enumerable.Range(0, 37).Select(i => (long)((i * 7919) % 101) - 50).ToArray();
        foreach (var id in ids)
        {
            await shop.AddProductAsync(id, 10, 1);
        }

        var seen = new List<long>();
        var pages = 0;
        ProductId? after = null;
        while (true)
        {
            var page = await shop.Catalog.ListProductsAsync(after, 5);
            pages++;
            Assert.True(page.Count <= 5);
            seen.AddRange(page.Select(p => p.Id.Value));
            if (page.Count < 5)
            {
                break;
            }

            after = page[^1].Id;
        }

        Assert.Equal(ids.Order(), seen);
        Assert.Equal(8, pages);
    }

    [StoreFact]
    public async Task A_page_after_an_id_that_is_not_a_product_starts_at_the_next_greater_id()
    {
        using var shop = CreateShop();
        foreach (var id in new long[] { 10, 20, 30 })
        {
            await shop.AddProductAsync(id, 10, 1);
        }

        var page = await shop.Catalog.ListProductsAsync(Product(15), 10);

        Assert.Equal(new long[] { 20, 30 }, page.Select(p => p.Id.Value));
        Assert.Empty(await shop.Catalog.ListProductsAsync(Product(30), 10));
    }

    [StoreFact]
    public async Task Paging_works_at_the_extremes_of_the_id_range()
    {
        using var shop = CreateShop();
        foreach (var id in new[] { long.MaxValue, 0, long.MinValue })
        {
            await shop.AddProductAsync(id, 10, 1);
        }

        Assert.Equal(new[] { long.MinValue, 0, long.MaxValue }, (await shop.Catalog.ListProductsAsync()).Select(p => p.Id.Value));
        Assert.Equal(new[] { 0, long.MaxValue }, (await shop.Catalog.ListProductsAsync(Product(long.MinValue), 10)).Select(p => p.Id.Value));
        Assert.Empty(await shop.Catalog.ListProductsAsync(Product(long.MaxValue), 10));
    }

    [StoreTheory]
    [InlineData(0)]
    [InlineData(-1)]
    [InlineData(101)]
    public async Task A_page_size_outside_one_to_the_maximum_throws_ArgumentOutOfRangeException(int limit)
    {
        using var shop = CreateShop();
        await shop.AddProductAsync(1, 10, 1);

        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await shop.Catalog.ListProductsAsync(null, limit));
        Assert.Single(await shop.Catalog.ListProductsAsync(null, shop.Options.MaxPageSize));
    }
}
