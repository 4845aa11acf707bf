using System.Net;

namespace Commerce.Samples.WebApi.Tests;

/// <summary>A whole visit over HTTP with tokens: the administrator stocks the shop, a customer shops.</summary>
public sealed class CustomerJourneyTests : ApiTest
{
    [Fact]
    public async Task An_admin_stocks_the_catalog_and_a_customer_charges_orders_cancels_and_checks_out_with_their_token()
    {
        var admin = Api.Admin;
        await ApiServer.ExpectAsync(await admin.PostJsonAsync("/products", new { id = 1, name = "Keyboard", price = 3000, stock = 2 }), HttpStatusCode.Created);
        await ApiServer.ExpectAsync(await admin.PostJsonAsync("/products", new { id = 2, name = "Mouse", price = 1500, stock = 5 }), HttpStatusCode.Created);
        await ApiServer.ExpectAsync(await admin.PostJsonAsync("/products/1/restock", new { quantity = 3 }), HttpStatusCode.OK);

        var alice = Api.User(7);
        Assert.Equal(10_000, (await ApiServer.ExpectAsync(
            await alice.PostWithKeyAsync("/users/7/balance/charge", new { amount = 10_000 }, "top-up-1"), HttpStatusCode.OK)).GetProperty("balance").GetInt64());

        // An order, read back, then cancelled: the money and the stock come back.
        var order = await ApiServer.ExpectAsync(
            await alice.PostJsonAsync("/orders", new { items = new[] { new { productId = 1, quantity = 2 } } }), HttpStatusCode.Created);
        var orderId = order.GetProperty("id").GetGuid();
        Assert.Equal(7, order.GetProperty("userId").GetInt64());
        Assert.Equal(order.GetRawText(), (await alice.GetJsonAsync($"/orders/{orderId}")).GetRawText());
        Assert.Equal(4000, (await alice.GetJsonAsync("/users/7/balance")).GetProperty("balance").GetInt64());
        var cancelled = await ApiServer.ExpectAsync(await alice.PostAsync($"/orders/{orderId}/cancel"), HttpStatusCode.OK);
        Assert.Equal("Cancelled", cancelled.GetProperty("status").GetString());
        Assert.Equal(5, await Api.StockAsync(1));

        // A cart, checked out.
        await ApiServer.ExpectAsync(await alice.PostJsonAsync("/users/7/cart/items", new { productId = 2, quantity = 2 }), HttpStatusCode.OK);
        await ApiServer.ExpectAsync(await alice.PostJsonAsync("/users/7/cart/items", new { productId = 1, quantity = 1 }), HttpStatusCode.OK);
        await ApiServer.ExpectAsync(await alice.DeleteAsync("/users/7/cart/items/1"), HttpStatusCode.OK);
        var checkedOut = await ApiServer.ExpectAsync(await alice.PostAsync("/users/7/cart/checkout"), HttpStatusCode.Created);
        Assert.Equal(3000, checkedOut.GetProperty("total").GetInt64());
        Assert.Equal("""{"userId":7,"lines":[],"total":0}""", (await alice.GetJsonAsync("/users/7/cart")).GetRawText());

        // The ledger tells the story, and the order list too, newest first.
        var ledger = (await alice.GetJsonAsync("/users/7/ledger")).EnumerateArray().ToArray();
        Assert.Equal(new[] { "Charge", "Payment", "Refund", "Payment" }, ledger.Select(e => e.GetProperty("kind").GetString()));
        Assert.Equal(new long[] { 10_000, 4000, 10_000, 7000 }, ledger.Select(e => e.GetProperty("balanceAfter").GetInt64()));
        var orders = (await alice.GetJsonAsync("/users/7/orders")).EnumerateArray().ToArray();
        Assert.Equal(
            new[] { checkedOut.GetProperty("id").GetGuid(), orderId },
            orders.Select(o => o.GetProperty("id").GetGuid()));

        Assert.Equal(7000, await Api.BalanceAsync(7));
        Assert.Equal(3, await Api.StockAsync(2));
        var popular = Assert.Single((await Api.GetJsonAsync("/products/popular")).EnumerateArray());
        Assert.Equal((2L, 2L), (popular.GetProperty("productId").GetInt64(), popular.GetProperty("quantitySold").GetInt64()));
    }
}
