using System.Net;

namespace Commerce.Samples.WebApi.Tests;

public sealed class ProductEndpointsTests : ApiTest
{
    [Fact]
    public async Task Adding_a_product_returns_201_with_its_location_and_the_product()
    {
        var response = await Api.Admin.PostJsonAsync("/products", new { id = 1, name = "Keyboard", price = 3000, stock = 10 });
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        Assert.Equal("/products/1", response.Headers.Location?.OriginalString);
        Assert.Equal("""{"id":1,"name":"Keyboard","price":3000,"stock":10}""", await response.Content.ReadAsStringAsync());

        var read = await Client.GetAsync(response.Headers.Location);
        Assert.Equal(HttpStatusCode.OK, read.StatusCode);
        Assert.Equal("""{"id":1,"name":"Keyboard","price":3000,"stock":10}""", await read.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Adding_an_existing_id_is_a_409_ProductAlreadyExists_and_keeps_the_first()
    {
        await Api.AddProductAsync(1, "Keyboard", 3000, 10);
        var response = await Api.Admin.PostJsonAsync("/products", new { id = 1, name = "Other", price = 1, stock = 1 });
        var problem = await ApiServer.ExpectProblemAsync(response, HttpStatusCode.Conflict, "ProductAlreadyExists");
        Assert.Equal(1, Assert.Single(problem.GetProperty("productIds").EnumerateArray()).GetInt64());
        Assert.Equal("Keyboard", (await Api.GetJsonAsync("/products/1")).GetProperty("name").GetString());
    }

    [Fact]
    public async Task Invalid_products_are_refused_with_400_and_the_reason()
    {
        await ApiServer.ExpectProblemAsync(
            await Api.Admin.PostJsonAsync("/products", new { id = 1, name = "   ", price = 1, stock = 1 }), HttpStatusCode.BadRequest, "InvalidProductName");
        await ApiServer.ExpectProblemAsync(
            await Api.Admin.PostRawAsync("/products", """{"id":1,"name":null,"price":1,"stock":1}"""), HttpStatusCode.BadRequest, "InvalidProductName");
        await ApiServer.ExpectProblemAsync(
            await Api.Admin.PostRawAsync("/products", """{"id":1,"price":1,"stock":1}"""), HttpStatusCode.BadRequest, "InvalidRequest");
        await ApiServer.ExpectProblemAsync(
            await Api.Admin.PostJsonAsync("/products", new { id = 1, name = "Mouse", price = -1, stock = 1 }), HttpStatusCode.BadRequest, "InvalidAmount");
        await ApiServer.ExpectProblemAsync(
            await Api.Admin.PostJsonAsync("/products", new { id = 1, name = "Mouse", price = 1, stock = -1 }), HttpStatusCode.BadRequest, "InvalidQuantity");
        await ApiServer.ExpectProblemAsync(
            await Api.Admin.PostRawAsync("/products", """{"id":1,"name":"Mouse","price":1,"stock":"many"}"""), HttpStatusCode.BadRequest, "InvalidRequest");
        Assert.Empty((await Api.GetJsonAsync("/products")).EnumerateArray());
    }

    [Fact]
    public async Task Restocking_adds_to_the_stock_and_returns_the_product()
    {
        await Api.AddProductAsync(1, "Keyboard", 3000, 10);
        var response = await Api.Admin.PostJsonAsync("/products/1/restock", new { quantity = 5 });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("""{"id":1,"name":"Keyboard","price":3000,"stock":15}""", await response.Content.ReadAsStringAsync());
        Assert.Equal(15, await Api.StockAsync(1));
    }

    [Fact]
    public async Task Restocking_an_unknown_product_is_404_and_a_non_positive_quantity_is_400()
    {
        await Api.AddProductAsync(1, "Keyboard", 3000, 10);
        await ApiServer.ExpectProblemAsync(
            await Api.Admin.PostJsonAsync("/products/2/restock", new { quantity = 5 }), HttpStatusCode.NotFound, "ProductNotFound");
        await ApiServer.ExpectProblemAsync(
            await Api.Admin.PostJsonAsync("/products/1/restock", new { quantity = 0 }), HttpStatusCode.BadRequest, "InvalidQuantity");
        await ApiServer.ExpectProblemAsync(
            await Api.Admin.PostJsonAsync("/products/x/restock", new { quantity = 1 }), HttpStatusCode.BadRequest, "InvalidRequest");
        Assert.Equal(10, await Api.StockAsync(1));
    }

    [Fact]
    public async Task Reading_an_unknown_product_is_404_and_a_non_numeric_id_is_400()
    {
        await ApiServer.ExpectProblemAsync(await Client.GetAsync(new Uri("/products/9", UriKind.Relative)), HttpStatusCode.NotFound, "ProductNotFound");
        await ApiServer.ExpectProblemAsync(await Client.GetAsync(new Uri("/products/nine", UriKind.Relative)), HttpStatusCode.BadRequest, "InvalidRequest");
    }

    [Fact]
    public async Task Listing_pages_through_products_in_id_order()
    {
        foreach (var id in new[] { 5, 3, 1, 4, 2 })
        {
            await Api.AddProductAsync(id, $"Product {id}", id * 100, id);
        }

        Assert.Equal(new long[] { 1, 2 }, await IdsAsync("/products?limit=2"));
        Assert.Equal(new long[] { 3, 4 }, await IdsAsync("/products?limit=2&after=2"));
        Assert.Equal(new long[] { 5 }, await IdsAsync("/products?limit=2&after=4"));
        Assert.Equal(new long[] { 1, 2, 3, 4, 5 }, await IdsAsync("/products"));
        Assert.Empty(await IdsAsync("/products?after=5"));

        var first = (await Api.GetJsonAsync("/products?limit=1"))[0];
        Assert.Equal("""{"id":1,"name":"Product 1","price":100,"stock":1}""", first.GetRawText());
    }

    [Theory]
    [InlineData("limit=0")]
    [InlineData("limit=101")]
    [InlineData("limit=-1")]
    [InlineData("limit=ten")]
    [InlineData("after=x")]
    public async Task A_bad_page_query_is_a_400_InvalidRequest(string query)
    {
        await ApiServer.ExpectProblemAsync(
            await Client.GetAsync(new Uri($"/products?{query}", UriKind.Relative)), HttpStatusCode.BadRequest, "InvalidRequest");
    }

    private async Task<long[]> IdsAsync(string path) =>
        [.. (await Api.GetJsonAsync(path)).EnumerateArray().Select(p => p.GetProperty("id").GetInt64())];
}
