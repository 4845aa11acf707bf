using System.Net;
using System.Text.Json;

namespace Commerce.Samples.WebApi.Tests;

public sealed class OrderEndpointsTests : ApiTest
{
    private async Task SeedAsync()
    {
        await Api.AddProductAsync(1, "Keyboard", 3000, 10);
        await Api.AddProductAsync(2, "Monitor", 20_000, 2);
        await Api.AddProductAsync(3, "Cable", 10, 100);
        await Api.ChargeAsync(1, 100_000);
    }

    [Fact]
    public async Task Placing_an_order_returns_201_with_the_order_and_debits_wallet_and_stock()
    {
        await SeedAsync();
        var response = await Api.User(1).PostJsonAsync("/orders", new { userId = 1, items = new[] { new { productId = 1, quantity = 2 }, new { productId = 3, quantity = 3 } } });
        var order = await ApiServer.ExpectAsync(response, HttpStatusCode.Created);

        var id = order.GetProperty("id").GetGuid();
        Assert.Equal($"/orders/{id}", response.Headers.Location?.OriginalString);
        Assert.Equal(1, order.GetProperty("userId").GetInt64());
        Assert.Equal(6030, order.GetProperty("total").GetInt64());
        Assert.Equal(JsonValueKind.String, order.GetProperty("placedAt").ValueKind);
        Assert.Equal(
            """[{"productId":1,"quantity":2,"unitPrice":3000,"lineTotal":6000},{"productId":3,"quantity":3,"unitPrice":10,"lineTotal":30}]""",
            order.GetProperty("lines").GetRawText());
        Assert.Equal("Placed", order.GetProperty("status").GetString());
        Assert.Equal(JsonValueKind.Null, order.GetProperty("cancelledAt").ValueKind);
        Assert.Equal(
            ["id", "userId", "lines", "total", "placedAt", "status", "cancelledAt"],
            order.EnumerateObject().Select(p => p.Name));

        Assert.Equal(100_000 - 6030, await Api.BalanceAsync(1));
        Assert.Equal(8, await Api.StockAsync(1));
        Assert.Equal(97, await Api.StockAsync(3));

        var read = await Api.User(1).GetJsonAsync($"/orders/{id}");
        Assert.Equal(order.GetRawText(), read.GetRawText());
    }

    [Fact]
    public async Task Duplicate_lines_are_merged_into_one()
    {
        await SeedAsync();
        var order = await ApiServer.ExpectAsync(
            await Api.User(1).PostJsonAsync("/orders", new { userId = 1, items = new[] { new { productId = 3, quantity = 2 }, new { productId = 3, quantity = 3 } } }),
            HttpStatusCode.Created);
        Assert.Equal("""[{"productId":3,"quantity":5,"unitPrice":10,"lineTotal":50}]""", order.GetProperty("lines").GetRawText());
        Assert.Equal(95, await Api.StockAsync(3));
    }

    [Theory]
    [InlineData("""{"userId":1,"items":[]}""", "EmptyOrder")]
    [InlineData("""{"userId":1}""", "EmptyOrder")]
    [InlineData("""{"userId":1,"items":[{"productId":1,"quantity":0}]}""", "InvalidQuantity")]
    [InlineData("""{"userId":1,"items":[{"productId":1,"quantity":-2}]}""", "InvalidQuantity")]
    [InlineData("""{"userId":1,"items":[{"productId":1,"quantity":"2"}]}""", "InvalidRequest")]
    [InlineData("""{"userId":1,"items":[null]}""", "InvalidRequest")]
    [InlineData("""{"userId":1,"items":[{"productId":1,"quantity":2}""", "InvalidRequest")]
    public async Task An_invalid_order_is_a_400_and_changes_nothing(string body, string code)
    {
        await SeedAsync();
        await ApiServer.ExpectProblemAsync(await Api.User(1).PostRawAsync("/orders", body), HttpStatusCode.BadRequest, code);
        Assert.Equal(100_000, await Api.BalanceAsync(1));
        Assert.Equal(10, await Api.StockAsync(1));
    }

    [Fact]
    public async Task An_order_of_more_distinct_products_than_allowed_is_a_400_TooManyLines()
    {
        var items = Enumerable.Range(1, 101).Select(i => new { productId = i, quantity = 1 }).ToArray();
        await ApiServer.ExpectProblemAsync(await Api.User(1).PostJsonAsync("/orders", new { userId = 1, items }), HttpStatusCode.BadRequest, "TooManyLines");
    }

    [Fact]
    public async Task An_order_whose_total_overflows_is_a_400_AmountOverflow()
    {
        await Api.AddProductAsync(9, "Gold", 4_000_000_000_000_000_000, 10);
        await Api.ChargeAsync(1, 1000);
        await ApiServer.ExpectProblemAsync(
            await Api.User(1).PostJsonAsync("/orders", new { userId = 1, items = new[] { new { productId = 9, quantity = 3 } } }),
            HttpStatusCode.BadRequest,
            "AmountOverflow");
        Assert.Equal(10, await Api.StockAsync(9));
    }

    [Fact]
    public async Task An_order_for_an_unknown_product_is_a_404_naming_it()
    {
        await SeedAsync();
        var problem = await ApiServer.ExpectProblemAsync(
            await Api.User(1).PostJsonAsync("/orders", new { userId = 1, items = new[] { new { productId = 1, quantity = 1 }, new { productId = 77, quantity = 1 } } }),
            HttpStatusCode.NotFound,
            "ProductNotFound");
        Assert.Equal(77, Assert.Single(problem.GetProperty("productIds").EnumerateArray()).GetInt64());
        Assert.Equal(10, await Api.StockAsync(1));
    }

    [Fact]
    public async Task An_order_the_wallet_cannot_pay_is_a_409_InsufficientBalance()
    {
        await SeedAsync();
        await Api.ChargeAsync(2, 100);
        await ApiServer.ExpectProblemAsync(
            await Api.User(2).PostJsonAsync("/orders", new { userId = 2, items = new[] { new { productId = 1, quantity = 1 } } }),
            HttpStatusCode.Conflict,
            "InsufficientBalance");
        Assert.Equal(100, await Api.BalanceAsync(2));
        Assert.Equal(10, await Api.StockAsync(1));
    }

    [Fact]
    public async Task An_order_beyond_the_stock_is_a_409_InsufficientStock_naming_the_short_products()
    {
        await SeedAsync();
        var problem = await ApiServer.ExpectProblemAsync(
            await Api.User(1).PostJsonAsync("/orders", new { userId = 1, items = new[] { new { productId = 1, quantity = 1 }, new { productId = 2, quantity = 3 } } }),
            HttpStatusCode.Conflict,
            "InsufficientStock");
        Assert.Equal(2, Assert.Single(problem.GetProperty("productIds").EnumerateArray()).GetInt64());
        Assert.Equal(100_000, await Api.BalanceAsync(1));
        Assert.Equal(10, await Api.StockAsync(1));
        Assert.Equal(2, await Api.StockAsync(2));
    }

    [Fact]
    public async Task Reading_an_unknown_order_is_404_and_a_malformed_id_is_400()
    {
        await ApiServer.ExpectProblemAsync(
            await Api.User(1).GetAsync($"/orders/{Guid.NewGuid()}"), HttpStatusCode.NotFound, "OrderNotFound");
        await ApiServer.ExpectProblemAsync(
            await Api.User(1).GetAsync("/orders/12"), HttpStatusCode.BadRequest, "InvalidRequest");
    }
}
