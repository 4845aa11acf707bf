using Commerce.Postgres.Tests.Support;

namespace Commerce.Postgres.Tests;

/// <summary>Two independent host instances (service providers, connection pools) on one database.</summary>
public sealed class MultiInstanceTests
{
    [PostgresFact]
    public async Task Two_instances_placing_orders_and_charges_concurrently_conserve_money_stock_and_sales()
    {
        await using var first = await PgShop.CreateAsync(o => o.MaxCommitAttempts = 10_000);
        await using var second = await first.JoinAsync(o => o.MaxCommitAttempts = 10_000);
        await PlaceOrdersAndChargesAsync(first, second);
    }

    /// <summary>
    /// As above, each instance grouping its commits: the groups of the two instances lock rows in the one
    /// key order, as single commits do, and every use case keeps its own outcome.
    /// </summary>
    [PostgresFact]
    public async Task Two_instances_with_group_commit_placing_orders_and_charges_concurrently_conserve_money_stock_and_sales()
    {
        await using var first = await PgShop.CreateAsync(o => o.MaxCommitAttempts = 10_000, o => o.GroupCommit = true);
        await using var second = await PgShop.OnSchemaAsync(first.Schema, o => o.MaxCommitAttempts = 10_000, o => o.GroupCommit = true);
        await PlaceOrdersAndChargesAsync(first, second);
    }

    private static async Task PlaceOrdersAndChargesAsync(PgShop first, PgShop second)
    {
        PgShop[] shops = [first, second];
        const int Users = 6;
        const int Products = 4;
        const int InitialStock = 60;
        const long InitialMoney = 400;
        for (var p = 1; p <= Products; p++)
        {
            await first.Catalog.AddProductAsync(new ProductId(p), "P" + p, new Money(p), InitialStock);
        }

        for (var u = 0; u < Users; u++)
        {
            await second.Wallets.ChargeAsync(new UserId(u), new Money(InitialMoney));
        }

        long charged = 0;
        long spent = 0;
        var unitsSold = new long[Products + 1];
        await ConcurrencyTests.RunOnThreads(8, async t =>
        {
            var shop = shops[t % 2];
            var random = new Random(t);
            for (var i = 0; i < 40; i++)
            {
                var user = new UserId(random.Next(Users));
                if (random.Next(4) == 0)
                {
                    if ((await shop.Wallets.ChargeAsync(user, new Money(7))).IsSuccess)
                    {
                        Interlocked.Add(ref charged, 7);
                    }

                    continue;
                }

                var a = new ProductId(random.Next(1, Products + 1));
                var b = new ProductId(random.Next(1, Products + 1));
                var result = await shop.Orders.PlaceOrderAsync(user, [new(a, random.Next(1, 4)), new(b, random.Next(1, 3))]);
                if (result.IsSuccess)
                {
                    Interlocked.Add(ref spent, result.Value.Total.Amount);
                    foreach (var line in result.Value.Lines)
                    {
                        Interlocked.Add(ref unitsSold[line.ProductId.Value], line.Quantity);
                    }
                }
                else
                {
                    Assert.Contains(result.Error!.Code, new[] { CommerceErrorCode.InsufficientBalance, CommerceErrorCode.InsufficientStock });
                }
            }
        });

        long balances = 0;
        for (var u = 0; u < Users; u++)
        {
            balances += (await first.Wallets.GetBalanceAsync(new UserId(u))).Amount;
        }

        Assert.Equal((Users * InitialMoney) + charged - spent, balances);
        Assert.Equal(spent, await first.ScalarAsync<long>("SELECT coalesce(sum(total), 0) FROM {s}.orders"));
        var ranking = await second.Ranking.GetPopularProductsAsync(Products, TimeSpan.FromDays(1));
        for (var p = 1; p <= Products; p++)
        {
            var stock = (await second.Catalog.GetProductAsync(new ProductId(p))).Value.Stock;
            Assert.Equal(InitialStock - unitsSold[p], stock);
            Assert.Equal(unitsSold[p], ranking.SingleOrDefault(r => r.ProductId.Value == p)?.QuantitySold ?? 0);
            Assert.Equal(unitsSold[p], await first.ScalarAsync<long>($"SELECT coalesce(sum(quantity), 0) FROM {{s}}.order_lines WHERE product_id = {p}"));
        }

        Assert.True(spent > 0);
    }
}
