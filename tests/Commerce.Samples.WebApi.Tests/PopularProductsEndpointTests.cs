using System.Net;

namespace Commerce.Samples.WebApi.Tests;

public sealed class PopularProductsEndpointTests : ApiTest
{
    [Fact]
    public async Task Popular_products_rank_by_units_sold_with_ties_by_lower_id()
    {
        for (var id = 1; id <= 7; id++)
        {
            await Api.AddProductAsync(id, $"Product {id}", 10, 100);
        }

        await Api.ChargeAsync(1, 100_000);
        (int Product, int Quantity)[] sales = [(4, 10), (2, 3), (6, 5), (1, 3), (7, 1), (3, 2), (4, 1)];
        foreach (var (product, quantity) in sales)
        {
            await ApiServer.ExpectAsync(
                await Api.User(1).PostJsonAsync("/orders", new { userId = 1, items = new[] { new { productId = product, quantity } } }), HttpStatusCode.Created);
        }

        var popular = await Api.GetJsonAsync("/products/popular?count=5&days=3");
        Assert.Equal(
            [(1, 4L, 11L), (2, 6, 5), (3, 1, 3), (4, 2, 3), (5, 3, 2)],
            popular.EnumerateArray().Select(p => (p.GetProperty("rank").GetInt32(), p.GetProperty("productId").GetInt64(), p.GetProperty("quantitySold").GetInt64())));
        Assert.Equal("""{"rank":1,"productId":4,"name":"Product 4","price":10,"quantitySold":11}""", popular[0].GetRawText());

        Assert.Equal(5, (await Api.GetJsonAsync("/products/popular")).GetArrayLength());
        Assert.Equal(2, (await Api.GetJsonAsync("/products/popular?count=2")).GetArrayLength());
        // Product 5 sold nothing, so it is not ranked.
        Assert.Equal(6, (await Api.GetJsonAsync("/products/popular?count=100&days=1")).GetArrayLength());
    }

    [Fact]
    public async Task No_sales_means_an_empty_ranking()
    {
        await Api.AddProductAsync(1, "Unsold", 10, 100);
        Assert.Equal(0, (await Api.GetJsonAsync("/products/popular")).GetArrayLength());
    }

    [Theory]
    [InlineData("count=0")]
    [InlineData("count=101")]
    [InlineData("count=five")]
    [InlineData("days=0")]
    [InlineData("days=367")]
    [InlineData("days=-3")]
    [InlineData("days=2147483647")]
    [InlineData("days=1.5")]
    public async Task A_bad_ranking_query_is_a_400_InvalidRequest(string query)
    {
        await ApiServer.ExpectProblemAsync(
            await Client.GetAsync(new Uri($"/products/popular?{query}", UriKind.Relative)), HttpStatusCode.BadRequest, "InvalidRequest");
    }
}
