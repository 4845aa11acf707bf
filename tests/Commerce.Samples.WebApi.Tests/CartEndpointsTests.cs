using System.Net;

namespace Commerce.Samples.WebApi.Tests;

public sealed class CartEndpointsTests : ApiTest
{
    [Fact]
    public async Task Adding_creates_then_increases_a_line_and_the_view_has_names_prices_and_totals()
    {
        await Api.AddProductAsync(1, "Keyboard", 3000, 10);
        await Api.AddProductAsync(2, "Mouse", 1500, 10);

        var created = await Api.User(3).PostJsonAsync("/users/3/cart/items", new { productId = 1, quantity = 2 });
        Assert.Equal(HttpStatusCode.OK, created.StatusCode);
        Assert.Equal(
            """{"userId":3,"lines":[{"productId":1,"name":"Keyboard","unitPrice":3000,"quantity":2,"lineTotal":6000}],"total":6000}""",
            await created.Content.ReadAsStringAsync());

        await ApiServer.ExpectAsync(await Api.User(3).PostJsonAsync("/users/3/cart/items", new { productId = 2, quantity = 1 }), HttpStatusCode.OK);
        var increased = await ApiServer.ExpectAsync(await Api.User(3).PostJsonAsync("/users/3/cart/items", new { productId = 1, quantity = 1 }), HttpStatusCode.OK);
        Assert.Equal(10_500, increased.GetProperty("total").GetInt64());

        var view = await Api.User(3).GetJsonAsync("/users/3/cart");
        Assert.Equal(
            """{"userId":3,"lines":[{"productId":1,"name":"Keyboard","unitPrice":3000,"quantity":3,"lineTotal":9000},{"productId":2,"name":"Mouse","unitPrice":1500,"quantity":1,"lineTotal":1500}],"total":10500}""",
            view.GetRawText());
    }

    [Fact]
    public async Task Removing_a_line_returns_the_cart_and_removing_it_again_is_404_CartItemNotFound()
    {
        await Api.AddProductAsync(1, "Keyboard", 3000, 10);
        await Api.AddProductAsync(2, "Mouse", 1500, 10);
        await ApiServer.ExpectAsync(await Api.User(3).PostJsonAsync("/users/3/cart/items", new { productId = 1, quantity = 2 }), HttpStatusCode.OK);
        await ApiServer.ExpectAsync(await Api.User(3).PostJsonAsync("/users/3/cart/items", new { productId = 2, quantity = 1 }), HttpStatusCode.OK);

        var removed = await ApiServer.ExpectAsync(await Api.User(3).DeleteAsync("/users/3/cart/items/2"), HttpStatusCode.OK);
        Assert.Equal(
            """{"userId":3,"lines":[{"productId":1,"name":"Keyboard","unitPrice":3000,"quantity":2,"lineTotal":6000}],"total":6000}""",
            removed.GetRawText());

        await ApiServer.ExpectProblemAsync(
            await Api.User(3).DeleteAsync("/users/3/cart/items/2"), HttpStatusCode.NotFound, "CartItemNotFound");
        await ApiServer.ExpectProblemAsync(
            await Api.User(3).DeleteAsync("/users/3/cart/items/two"), HttpStatusCode.BadRequest, "InvalidRequest");
        Assert.Equal(6000, (await Api.User(3).GetJsonAsync("/users/3/cart")).GetProperty("total").GetInt64());
    }

    [Fact]
    public async Task Checking_out_places_an_order_from_the_cart_and_empties_it()
    {
        await Api.AddProductAsync(1, "Keyboard", 3000, 10);
        await Api.AddProductAsync(2, "Mouse", 1500, 10);
        await Api.ChargeAsync(3, 20_000);
        await ApiServer.ExpectAsync(await Api.User(3).PostJsonAsync("/users/3/cart/items", new { productId = 2, quantity = 1 }), HttpStatusCode.OK);
        await ApiServer.ExpectAsync(await Api.User(3).PostJsonAsync("/users/3/cart/items", new { productId = 1, quantity = 2 }), HttpStatusCode.OK);

        var response = await Api.User(3).PostAsync("/users/3/cart/checkout");
        var order = await ApiServer.ExpectAsync(response, HttpStatusCode.Created);

        var id = order.GetProperty("id").GetGuid();
        Assert.Equal($"/orders/{id}", response.Headers.Location?.OriginalString);
        Assert.Equal(3, order.GetProperty("userId").GetInt64());
        Assert.Equal(
            """[{"productId":2,"quantity":1,"unitPrice":1500,"lineTotal":1500},{"productId":1,"quantity":2,"unitPrice":3000,"lineTotal":6000}]""",
            order.GetProperty("lines").GetRawText());
        Assert.Equal(7500, order.GetProperty("total").GetInt64());
        Assert.Equal("Placed", order.GetProperty("status").GetString());

        Assert.Equal("""{"userId":3,"lines":[],"total":0}""", (await Api.User(3).GetJsonAsync("/users/3/cart")).GetRawText());
        Assert.Equal(12_500, await Api.BalanceAsync(3));
        Assert.Equal(8, await Api.StockAsync(1));
        Assert.Equal(9, await Api.StockAsync(2));
        Assert.Equal(order.GetRawText(), (await Api.User(3).GetJsonAsync($"/orders/{id}")).GetRawText());
        Assert.Equal(id, Assert.Single((await Api.User(3).GetJsonAsync("/users/3/orders")).EnumerateArray()).GetProperty("id").GetGuid());
    }

    [Fact]
    public async Task Checking_out_an_empty_cart_is_a_400_EmptyOrder()
    {
        await Api.ChargeAsync(3, 1000);
        await ApiServer.ExpectProblemAsync(await Api.User(3).PostAsync("/users/3/cart/checkout"), HttpStatusCode.BadRequest, "EmptyOrder");

        // Emptied by removing its only line: still empty.
        await Api.AddProductAsync(1, "Keyboard", 3000, 10);
        await ApiServer.ExpectAsync(await Api.User(3).PostJsonAsync("/users/3/cart/items", new { productId = 1, quantity = 1 }), HttpStatusCode.OK);
        await ApiServer.ExpectAsync(await Api.User(3).DeleteAsync("/users/3/cart/items/1"), HttpStatusCode.OK);
        await ApiServer.ExpectProblemAsync(await Api.User(3).PostAsync("/users/3/cart/checkout"), HttpStatusCode.BadRequest, "EmptyOrder");
        Assert.Equal(1000, await Api.BalanceAsync(3));
    }

    [Fact]
    public async Task A_checkout_the_wallet_cannot_pay_is_a_409_and_leaves_the_cart_as_it_was()
    {
        await Api.AddProductAsync(1, "Keyboard", 3000, 10);
        await Api.ChargeAsync(3, 1000);
        await ApiServer.ExpectAsync(await Api.User(3).PostJsonAsync("/users/3/cart/items", new { productId = 1, quantity = 2 }), HttpStatusCode.OK);
        var before = (await Api.User(3).GetJsonAsync("/users/3/cart")).GetRawText();

        await ApiServer.ExpectProblemAsync(await Api.User(3).PostAsync("/users/3/cart/checkout"), HttpStatusCode.Conflict, "InsufficientBalance");

        Assert.Equal(before, (await Api.User(3).GetJsonAsync("/users/3/cart")).GetRawText());
        Assert.Equal(1000, await Api.BalanceAsync(3));
        Assert.Equal(10, await Api.StockAsync(1));
        Assert.Equal(0, (await Api.User(3).GetJsonAsync("/users/3/orders")).GetArrayLength());
    }

    [Fact]
    public async Task A_checkout_beyond_the_stock_is_a_409_naming_the_product_and_leaves_the_cart_as_it_was()
    {
        await Api.AddProductAsync(1, "Keyboard", 3000, 10);
        await Api.AddProductAsync(2, "Monitor", 20_000, 1);
        await Api.ChargeAsync(3, 100_000);
        await ApiServer.ExpectAsync(await Api.User(3).PostJsonAsync("/users/3/cart/items", new { productId = 1, quantity = 1 }), HttpStatusCode.OK);
        await ApiServer.ExpectAsync(await Api.User(3).PostJsonAsync("/users/3/cart/items", new { productId = 2, quantity = 2 }), HttpStatusCode.OK);
        var before = (await Api.User(3).GetJsonAsync("/users/3/cart")).GetRawText();

        var problem = await ApiServer.ExpectProblemAsync(await Api.User(3).PostAsync("/users/3/cart/checkout"), HttpStatusCode.Conflict, "InsufficientStock");

        Assert.Equal(2, Assert.Single(problem.GetProperty("productIds").EnumerateArray()).GetInt64());
        Assert.Equal(before, (await Api.User(3).GetJsonAsync("/users/3/cart")).GetRawText());
        Assert.Equal(100_000, await Api.BalanceAsync(3));
        Assert.Equal(10, await Api.StockAsync(1));
    }

    [Fact]
    public async Task An_empty_cart_has_no_lines_and_a_zero_total()
    {
        Assert.Equal("""{"userId":5,"lines":[],"total":0}""", (await Api.User(5).GetJsonAsync("/users/5/cart")).GetRawText());
    }

    [Fact]
    public async Task Adding_an_unknown_product_is_404_and_a_non_positive_quantity_is_400()
    {
        await Api.AddProductAsync(1, "Keyboard", 3000, 10);
        await ApiServer.ExpectProblemAsync(
            await Api.User(3).PostJsonAsync("/users/3/cart/items", new { productId = 9, quantity = 1 }), HttpStatusCode.NotFound, "ProductNotFound");
        await ApiServer.ExpectProblemAsync(
            await Api.User(3).PostJsonAsync("/users/3/cart/items", new { productId = 1, quantity = 0 }), HttpStatusCode.BadRequest, "InvalidQuantity");
        await ApiServer.ExpectProblemAsync(
            await Api.User(3).PostRawAsync("/users/3/cart/items", "{\"productId\":1,"), HttpStatusCode.BadRequest, "InvalidRequest");
        Assert.Equal(0, (await Api.User(3).GetJsonAsync("/users/3/cart")).GetProperty("lines").GetArrayLength());
    }
}
