using System.Net;

namespace Commerce.Samples.WebApi.Tests;

public sealed class CartEndpointsTests : ApiTest
{
    [Fact]
    public async Task Adding_creates_then_increases_a_line_and_the_view_has_names_prices_and_totals()
    {
        await Api.AddProductAsync(1, "Keyboard", 3000, 10);
        await Api.AddProductAsync(2, "Mouse", 1500, 10);

        var created = await Api.PostJsonAsync("/users/3/cart/items", new { productId = 1, quantity = 2 });
        Assert.Equal(HttpStatusCode.OK, created.StatusCode);
        Assert.Equal(
            """{"userId":3,"lines":[{"productId":1,"name":"Keyboard","unitPrice":3000,"quantity":2,"lineTotal":6000}],"total":6000}""",
            await created.Content.ReadAsStringAsync());

        await ApiServer.ExpectAsync(await Api.PostJsonAsync("/users/3/cart/items", new { productId = 2, quantity = 1 }), HttpStatusCode.OK);
        var increased = await ApiServer.ExpectAsync(await Api.PostJsonAsync("/users/3/cart/items", new { productId = 1, quantity = 1 }), HttpStatusCode.OK);
        Assert.Equal(10_500, increased.GetProperty("total").GetInt64());

        var view = await Api.GetJsonAsync("/users/3/cart");
        Assert.Equal(
            """{"userId":3,"lines":[{"productId":1,"name":"Keyboard","unitPrice":3000,"quantity":3,"lineTotal":9000},{"productId":2,"name":"Mouse","unitPrice":1500,"quantity":1,"lineTotal":1500}],"total":10500}""",
            view.GetRawText());
    }

    [Fact]
    public async Task Removing_a_line_returns_the_cart_and_removing_it_again_is_404_CartItemNotFound()
    {
        await Api.AddProductAsync(1, "Keyboard", 3000, 10);
        await Api.AddProductAsync(2, "Mouse", 1500, 10);
        await ApiServer.ExpectAsync(await Api.PostJsonAsync("/users/3/cart/items", new { productId = 1, quantity = 2 }), HttpStatusCode.OK);
        await ApiServer.ExpectAsync(await Api.PostJsonAsync("/users/3/cart/items", new { productId = 2, quantity = 1 }), HttpStatusCode.OK);

        var removed = await ApiServer.ExpectAsync(await Client.DeleteAsync(new Uri("/users/3/cart/items/2", UriKind.Relative)), HttpStatusCode.OK);
        Assert.Equal(
            """{"userId":3,"lines":[{"productId":1,"name":"Keyboard","unitPrice":3000,"quantity":2,"lineTotal":6000}],"total":6000}""",
            removed.GetRawText());

        await ApiServer.ExpectProblemAsync(
            await Client.DeleteAsync(new Uri("/users/3/cart/items/2", UriKind.Relative)), HttpStatusCode.NotFound, "CartItemNotFound");
        await ApiServer.ExpectProblemAsync(
            await Client.DeleteAsync(new Uri("/users/3/cart/items/two", UriKind.Relative)), HttpStatusCode.BadRequest, "InvalidRequest");
        Assert.Equal(6000, (await Api.GetJsonAsync("/users/3/cart")).GetProperty("total").GetInt64());
    }

    [Fact]
    public async Task An_empty_cart_has_no_lines_and_a_zero_total()
    {
        Assert.Equal("""{"userId":5,"lines":[],"total":0}""", (await Api.GetJsonAsync("/users/5/cart")).GetRawText());
    }

    [Fact]
    public async Task Adding_an_unknown_product_is_404_and_a_non_positive_quantity_is_400()
    {
        await Api.AddProductAsync(1, "Keyboard", 3000, 10);
        await ApiServer.ExpectProblemAsync(
            await Api.PostJsonAsync("/users/3/cart/items", new { productId = 9, quantity = 1 }), HttpStatusCode.NotFound, "ProductNotFound");
        await ApiServer.ExpectProblemAsync(
            await Api.PostJsonAsync("/users/3/cart/items", new { productId = 1, quantity = 0 }), HttpStatusCode.BadRequest, "InvalidQuantity");
        await ApiServer.ExpectProblemAsync(
            await Api.PostRawAsync("/users/3/cart/items", "{\"productId\":1,"), HttpStatusCode.BadRequest, "InvalidRequest");
        Assert.Equal(0, (await Api.GetJsonAsync("/users/3/cart")).GetProperty("lines").GetArrayLength());
    }
}
