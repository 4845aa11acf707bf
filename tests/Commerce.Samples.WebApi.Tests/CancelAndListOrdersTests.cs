using System.Net;
using System.Text.Json;

namespace Commerce.Samples.WebApi.Tests;

public sealed class CancelAndListOrdersTests : ApiTest
{
    private async Task SeedAsync()
    {
        await Api.AddProductAsync(1, "Keyboard", 3000, 10);
        await Api.AddProductAsync(2, "Cable", 10, 100);
        await Api.ChargeAsync(1, 100_000);
    }

    [Fact]
    public async Task Cancelling_refunds_the_total_restocks_and_marks_the_order_cancelled()
    {
        await SeedAsync();
        var placed = await ApiServer.ExpectAsync(
            await Api.User(1).PostJsonAsync("/orders", new { userId = 1, items = new[] { new { productId = 1, quantity = 2 }, new { productId = 2, quantity = 3 } } }),
            HttpStatusCode.Created);
        var id = placed.GetProperty("id").GetGuid();
        Assert.Equal("Placed", placed.GetProperty("status").GetString());
        Assert.Equal(JsonValueKind.Null, placed.GetProperty("cancelledAt").ValueKind);
        Assert.Equal(100_000 - 6030, await Api.BalanceAsync(1));

        var cancelled = await ApiServer.ExpectAsync(await Api.User(1).PostAsync($"/orders/{id}/cancel"), HttpStatusCode.OK);

        Assert.Equal(id, cancelled.GetProperty("id").GetGuid());
        Assert.Equal("Cancelled", cancelled.GetProperty("status").GetString());
        var cancelledAt = cancelled.GetProperty("cancelledAt").GetDateTimeOffset();
        Assert.True(cancelledAt >= placed.GetProperty("placedAt").GetDateTimeOffset());
        Assert.Equal(placed.GetProperty("lines").GetRawText(), cancelled.GetProperty("lines").GetRawText());
        Assert.Equal(6030, cancelled.GetProperty("total").GetInt64());
        Assert.Equal(7, cancelled.EnumerateObject().Count());

        Assert.Equal(100_000, await Api.BalanceAsync(1));
        Assert.Equal(10, await Api.StockAsync(1));
        Assert.Equal(100, await Api.StockAsync(2));
        Assert.Equal(cancelled.GetRawText(), (await Api.User(1).GetJsonAsync($"/orders/{id}")).GetRawText());

        var ledger = await Api.User(1).GetJsonAsync("/users/1/ledger");
        Assert.Equal(3, ledger.GetArrayLength());
        var refund = ledger[2];
        Assert.Equal(3, refund.GetProperty("sequence").GetInt64());
        Assert.Equal("Refund", refund.GetProperty("kind").GetString());
        Assert.Equal(6030, refund.GetProperty("amount").GetInt64());
        Assert.Equal(100_000, refund.GetProperty("balanceAfter").GetInt64());
        Assert.Equal(id, refund.GetProperty("orderId").GetGuid());
    }

    [Fact]
    public async Task A_cancelled_order_no_longer_counts_as_popular()
    {
        await SeedAsync();
        var order = await Api.PlaceOrderAsync(1, 2, 5);
        await Api.PlaceOrderAsync(1, 1, 1);
        await ApiServer.ExpectAsync(await Api.User(1).PostAsync($"/orders/{order.GetProperty("id").GetGuid()}/cancel"), HttpStatusCode.OK);

        var popular = await Api.GetJsonAsync("/products/popular");
        Assert.Equal(1, Assert.Single(popular.EnumerateArray()).GetProperty("productId").GetInt64());
    }

    [Fact]
    public async Task Cancelling_twice_is_a_409_OrderAlreadyCancelled_and_refunds_once()
    {
        await SeedAsync();
        var id = (await Api.PlaceOrderAsync(1, 1, 1)).GetProperty("id").GetGuid();
        await ApiServer.ExpectAsync(await Api.User(1).PostAsync($"/orders/{id}/cancel"), HttpStatusCode.OK);

        var problem = await ApiServer.ExpectProblemAsync(await Api.User(1).PostAsync($"/orders/{id}/cancel"), HttpStatusCode.Conflict, "OrderAlreadyCancelled");
        Assert.Contains(id.ToString(), problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(100_000, await Api.BalanceAsync(1));
        Assert.Equal(10, await Api.StockAsync(1));
        Assert.Equal(3, (await Api.User(1).GetJsonAsync("/users/1/ledger")).GetArrayLength());
    }

    [Fact]
    public async Task Cancelling_an_unknown_order_is_404_and_a_malformed_id_is_400()
    {
        await ApiServer.ExpectProblemAsync(await Api.User(1).PostAsync($"/orders/{Guid.NewGuid()}/cancel"), HttpStatusCode.NotFound, "OrderNotFound");
        await ApiServer.ExpectProblemAsync(await Api.User(1).PostAsync("/orders/12/cancel"), HttpStatusCode.BadRequest, "InvalidRequest");
    }

    [Fact]
    public async Task A_cancel_whose_refund_would_pass_the_maximum_balance_is_a_409_and_changes_nothing()
    {
        await SeedAsync();
        var id = (await Api.PlaceOrderAsync(1, 1, 1)).GetProperty("id").GetGuid();
        // Default limits: 10,000,000 a charge, 1,000,000,000 a balance; fill the wallet to the top.
        var room = 1_000_000_000 - await Api.BalanceAsync(1);
        for (; room > 0; room -= Math.Min(room, 10_000_000))
        {
            await Api.ChargeAsync(1, Math.Min(room, 10_000_000));
        }

        await ApiServer.ExpectProblemAsync(await Api.User(1).PostAsync($"/orders/{id}/cancel"), HttpStatusCode.Conflict, "BalanceLimitExceeded");
        Assert.Equal("Placed", (await Api.User(1).GetJsonAsync($"/orders/{id}")).GetProperty("status").GetString());
        Assert.Equal(9, await Api.StockAsync(1));
    }

    [Fact]
    public async Task A_users_orders_are_listed_newest_first_cancelled_ones_included()
    {
        await SeedAsync();
        var ids = new List<Guid>();
        for (var quantity = 1; quantity <= 4; quantity++)
        {
            ids.Add((await Api.PlaceOrderAsync(1, 2, quantity)).GetProperty("id").GetGuid());
        }

        await ApiServer.ExpectAsync(await Api.User(1).PostAsync($"/orders/{ids[1]}/cancel"), HttpStatusCode.OK);
        await Api.ChargeAsync(2, 1000);
        await Api.PlaceOrderAsync(2, 2, 1);

        var listed = await Api.User(1).GetJsonAsync("/users/1/orders");
        Assert.Equal(ids.AsEnumerable().Reverse(), listed.EnumerateArray().Select(o => o.GetProperty("id").GetGuid()));
        Assert.Equal(new[] { 4, 3, 2, 1 }, listed.EnumerateArray().Select(o => o.GetProperty("lines")[0].GetProperty("quantity").GetInt32()));
        Assert.Equal(
            new[] { "Placed", "Placed", "Cancelled", "Placed" },
            listed.EnumerateArray().Select(o => o.GetProperty("status").GetString()));
        Assert.Equal((await Api.User(1).GetJsonAsync($"/orders/{ids[3]}")).GetRawText(), listed[0].GetRawText());

        var two = await Api.User(1).GetJsonAsync("/users/1/orders?limit=2");
        Assert.Equal(new[] { ids[3], ids[2] }, two.EnumerateArray().Select(o => o.GetProperty("id").GetGuid()));
    }

    [Fact]
    public async Task A_user_without_orders_has_an_empty_list()
    {
        Assert.Equal("[]", (await Api.User(9).GetJsonAsync("/users/9/orders")).GetRawText());
        await Api.ChargeAsync(9, 100);
        Assert.Equal("[]", (await Api.User(9).GetJsonAsync("/users/9/orders")).GetRawText());
    }

    [Theory]
    [InlineData("limit=0")]
    [InlineData("limit=-1")]
    [InlineData("limit=1001")]
    [InlineData("limit=2147483648")]
    [InlineData("limit=ten")]
    [InlineData("limit=1.5")]
    public async Task A_bad_orders_query_is_a_400_InvalidRequest(string query)
    {
        await ApiServer.ExpectProblemAsync(
            await Api.User(1).GetAsync($"/users/1/orders?{query}"), HttpStatusCode.BadRequest, "InvalidRequest");
    }

    [Fact]
    public async Task The_largest_orders_page_is_accepted()
    {
        Assert.Equal(0, (await Api.User(1).GetJsonAsync("/users/1/orders?limit=1000")).GetArrayLength());
    }
}
