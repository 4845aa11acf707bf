using Commerce.Postgres.Tests.Support;
using Npgsql;

namespace Commerce.Postgres.Tests;

/// <summary>A commit adds to the sales rows of all its products in one statement (an upsert of arrays).</summary>
public sealed class SalesUpsertTests
{
    [PostgresFact]
    public async Task One_statement_adds_to_rows_that_exist_and_creates_those_that_do_not()
    {
        await using var shop = await PgShop.CreateAsync();
        for (var id = 1; id <= 3; id++)
        {
            Assert.True((await shop.Catalog.AddProductAsync(new ProductId(id), "P" + id, new Money(1), 10)).IsSuccess);
        }

        var bucket = shop.Store.BucketStart(1_000);
        var later = shop.Store.BucketStart(1_001);
        await using var connection = await shop.Store.DataSource.OpenConnectionAsync();
        await AddAsync(connection, shop.Store, [bucket], [1], [5]);

        // Product 1's row in the bucket grows; product 1 in the next bucket and products 2 and 3 get rows.
        await AddAsync(connection, shop.Store, [bucket, bucket, bucket, later], [1, 2, 3, 1], [2, 3, 4, 6]);

        await using var read = new NpgsqlCommand(
            $"SELECT bucket_start, product_id, quantity FROM {shop.Store.QuotedSchema}.sales ORDER BY bucket_start, product_id", connection);
        await using var reader = await read.ExecuteReaderAsync();
        var rows = new List<(DateTimeOffset, long, long)>();
        while (await reader.ReadAsync())
        {
            rows.Add((reader.GetFieldValue<DateTimeOffset>(0), reader.GetInt64(1), reader.GetInt64(2)));
        }

        Assert.Equal([(bucket, 1L, 7L), (bucket, 2L, 3L), (bucket, 3L, 4L), (later, 1L, 6L)], rows);
    }

    [PostgresFact]
    public async Task An_order_of_three_products_counts_each_once_and_a_cancel_takes_them_back()
    {
        await using var shop = await PgShop.CreateAsync();
        for (var id = 1; id <= 3; id++)
        {
            Assert.True((await shop.Catalog.AddProductAsync(new ProductId(id), "P" + id, new Money(1), 10)).IsSuccess);
        }

        Assert.True((await shop.Wallets.ChargeAsync(new UserId(1), new Money(100))).IsSuccess);
        var first = await shop.Orders.PlaceOrderAsync(new UserId(1), [new(new ProductId(3), 1), new(new ProductId(1), 2), new(new ProductId(2), 3)]);
        var second = await shop.Orders.PlaceOrderAsync(new UserId(1), [new(new ProductId(2), 1), new(new ProductId(3), 4)]);
        Assert.True(first.IsSuccess);
        Assert.True(second.IsSuccess);

        var top = await shop.Ranking.GetPopularProductsAsync();
        Assert.Equal([(new ProductId(3), 5L), (new ProductId(2), 4L), (new ProductId(1), 2L)], top.Select(static s => (s.ProductId, s.QuantitySold)));

        Assert.True((await shop.Orders.CancelOrderAsync(first.Value.Id)).IsSuccess);
        top = await shop.Ranking.GetPopularProductsAsync();
        Assert.Equal([(new ProductId(3), 4L), (new ProductId(2), 1L)], top.Select(static s => (s.ProductId, s.QuantitySold)));
    }

    private static async Task AddAsync(NpgsqlConnection connection, PostgresCommerceStore store, DateTimeOffset[] buckets, long[] products, long[] quantities)
    {
        await using var command = new NpgsqlCommand(store.Writes.AdjustSales, connection);
        command.Parameters.Add(new NpgsqlParameter<DateTimeOffset[]> { TypedValue = buckets });
        command.Parameters.Add(new NpgsqlParameter<long[]> { TypedValue = products });
        command.Parameters.Add(new NpgsqlParameter<long[]> { TypedValue = quantities });
        Assert.Equal(buckets.Length, await command.ExecuteNonQueryAsync());
    }
}
