using System.Net;

namespace Commerce.Samples.WebApi.Tests;

public sealed class ConcurrencyOverHttpTests : ApiTest
{
    /// <summary>Runs <paramref name="count"/> requests on the thread pool, all released at once.</summary>
    private static async Task<HttpResponseMessage[]> RaceAsync(int count, Func<int, Task<HttpResponseMessage>> request)
    {
        var start = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var racers = Enumerable.Range(0, count).Select(i => Task.Run(async () =>
        {
            await start.Task;
            return await request(i);
        })).ToArray();
        start.SetResult();
        return await Task.WhenAll(racers);
    }

    [Fact]
    public async Task Concurrent_charges_to_one_wallet_are_all_applied()
    {
        const int Clients = 200;
        var responses = await RaceAsync(Clients, i => Api.User(1).PostJsonAsync("/users/1/balance/charge", new { amount = i + 1 }));

        Assert.All(responses, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        Assert.Equal(Clients * (Clients + 1) / 2, await Api.BalanceAsync(1));
    }

    [Fact]
    public async Task Twenty_concurrent_identical_keyed_orders_place_one_order()
    {
        const int Clients = 20;
        await Api.AddProductAsync(1, "Keyboard", 3000, 100);
        await Api.ChargeAsync(1, 100_000);
        var body = new { userId = 1, items = new[] { new { productId = 1, quantity = 2 } } };

        var responses = await RaceAsync(Clients, _ => Api.User(1).PostWithKeyAsync("/orders", body, "one-order-please"));

        var orders = new List<string>();
        foreach (var response in responses)
        {
            orders.Add((await ApiServer.ExpectAsync(response, HttpStatusCode.Created)).GetRawText());
        }

        Assert.Single(orders.Distinct());
        Assert.Equal(100_000 - 6000, await Api.BalanceAsync(1));
        Assert.Equal(98, await Api.StockAsync(1));
        Assert.Equal(1, (await Api.User(1).GetJsonAsync("/users/1/orders")).GetArrayLength());
        Assert.Equal(2, (await Api.User(1).GetJsonAsync("/users/1/ledger")).GetArrayLength());
    }

    [Fact]
    public async Task Concurrent_identical_keyed_charges_are_applied_once()
    {
        const int Clients = 20;
        var responses = await RaceAsync(Clients, _ => Api.User(1).PostWithKeyAsync("/users/1/balance/charge", new { amount = 700 }, "top-up"));

        foreach (var response in responses)
        {
            Assert.Equal(700, (await ApiServer.ExpectAsync(response, HttpStatusCode.OK)).GetProperty("balance").GetInt64());
        }

        Assert.Equal(700, await Api.BalanceAsync(1));
    }

    [Fact]
    public async Task Buyers_racing_for_scarce_stock_buy_exactly_the_stock_and_the_rest_get_409_InsufficientStock()
    {
        const int Buyers = 120;
        const int Stock = 15;
        await Api.AddProductAsync(1, "Limited", 100, Stock);
        for (var buyer = 1; buyer <= Buyers; buyer++)
        {
            await Api.ChargeAsync(buyer, 1000);
        }

        var responses = await RaceAsync(Buyers, i =>
            Api.User(i + 1).PostJsonAsync("/orders", new { userId = i + 1, items = new[] { new { productId = 1, quantity = 1 } } }));

        var sold = responses.Count(r => r.StatusCode == HttpStatusCode.Created);
        Assert.Equal(Stock, sold);
        foreach (var refused in responses.Where(r => r.StatusCode != HttpStatusCode.Created))
        {
            await ApiServer.ExpectProblemAsync(refused, HttpStatusCode.Conflict, "InsufficientStock");
        }

        Assert.Equal(0, await Api.StockAsync(1));
        long totalBalance = 0;
        for (var buyer = 1; buyer <= Buyers; buyer++)
        {
            totalBalance += await Api.BalanceAsync(buyer);
        }

        Assert.Equal((Buyers * 1000L) - (Stock * 100L), totalBalance);
        var popular = await Api.GetJsonAsync("/products/popular");
        Assert.Equal(Stock, popular[0].GetProperty("quantitySold").GetInt64());
    }
}
