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

    /// <summary>
    /// As above, one instance grouping its commits and the other committing each alone (a rolling change of
    /// <see cref="PostgresStoreOptions.GroupCommit"/>): groups and single commits lock rows in the one key order.
    /// </summary>
    [PostgresFact]
    public async Task Two_instances_one_with_group_commit_placing_orders_and_charges_concurrently_conserve_money_stock_and_sales()
    {
        await using var first = await PgShop.CreateAsync(o => o.MaxCommitAttempts = 10_000, o => o.GroupCommit = true);
        await using var second = await PgShop.OnSchemaAsync(first.Schema, o => o.MaxCommitAttempts = 10_000, o => (o.GroupCommit, o.CommandTimeout) = (false, 5));
        await PlaceOrdersAndChargesAsync(first, second);
    }

    /// <summary>
    /// A keyed request applied by an instance with higher limits and repeated on one with lower limits is
    /// refused by the lower limit before its key is looked at: the repeat applies nothing again, but it is
    /// answered with the refusal, not the stored outcome (documented in the package README); a keyed
    /// checkout, which looks at its key first, gets its stored outcome.
    /// </summary>
    [PostgresFact]
    public async Task A_keyed_request_repeated_on_an_instance_with_lower_limits_is_refused_without_applying_again()
    {
        await using var first = await PgShop.CreateAsync(o => (o.MaxChargeAmount, o.MaxLineQuantity, o.MaxOrderLines) = (new Money(1_000), 10, 2));
        await using var second = await first.JoinAsync(o => (o.MaxChargeAmount, o.MaxLineQuantity, o.MaxOrderLines) = (new Money(100), 5, 1));
        var user = new UserId(1);
        await first.Catalog.AddProductAsync(new ProductId(1), "A", new Money(1), 100);
        await first.Catalog.AddProductAsync(new ProductId(2), "B", new Money(1), 100);
        Assert.Equal(new Money(500), (await first.Wallets.ChargeAsync(user, new Money(500), new IdempotencyKey("charge"))).Value);
        OrderLineRequest[] lines = [new(new ProductId(1), 8), new(new ProductId(2), 1)];
        var placed = await first.Orders.PlaceOrderAsync(user, lines, new IdempotencyKey("order"));
        Assert.True(placed.IsSuccess);

        var charge = await second.Wallets.ChargeAsync(user, new Money(500), new IdempotencyKey("charge"));
        var order = await second.Orders.PlaceOrderAsync(user, lines, new IdempotencyKey("order"));

        Assert.Equal(CommerceErrorCode.ChargeLimitExceeded, charge.Error?.Code);
        Assert.Equal(CommerceErrorCode.InvalidQuantity, order.Error?.Code);
        Assert.Equal(new Money(491), await second.Wallets.GetBalanceAsync(user));
        Assert.Equal(1L, await first.ScalarAsync<long>("SELECT count(*) FROM {s}.orders"));
        Assert.Equal(placed.Value.Id, (await first.Orders.PlaceOrderAsync(user, lines, new IdempotencyKey("order"))).Value.Id);

        // A keyed checkout looks at its key before the cart's lines: the repeat gets the stored order.
        Assert.True((await first.Carts.AddItemAsync(user, new ProductId(1), 8)).IsSuccess);
        var checkedOut = await first.Carts.CheckoutAsync(user, new IdempotencyKey("checkout"));
        Assert.True(checkedOut.IsSuccess);
        Assert.Equal(checkedOut.Value.Id, (await second.Carts.CheckoutAsync(user, new IdempotencyKey("checkout"))).Value.Id);
        Assert.Equal(new Money(483), await second.Wallets.GetBalanceAsync(user));
    }

    /// <summary>
    /// State one instance allowed and another's lower limits do not (a balance above its MaxBalance, a cart
    /// line above its MaxLineQuantity) is kept as it is: the lower instance refuses what would go past its
    /// limits, a cancellation's refund and a checkout too, with documented errors, and changes nothing.
    /// </summary>
    [PostgresFact]
    public async Task State_above_the_limits_of_another_instance_is_refused_there_and_left_unchanged()
    {
        await using var first = await PgShop.CreateAsync(o => (o.MaxBalance, o.MaxLineQuantity) = (new Money(2_000), 10));
        await using var second = await first.JoinAsync(o => (o.MaxBalance, o.MaxLineQuantity) = (new Money(1_000), 5));
        var user = new UserId(1);
        await first.Catalog.AddProductAsync(new ProductId(1), "A", new Money(100), 100);
        await first.Wallets.ChargeAsync(user, new Money(2_000));
        var order = (await first.Orders.PlaceOrderAsync(user, [new(new ProductId(1), 5)])).Value;
        Assert.True((await first.Carts.AddItemAsync(user, new ProductId(1), 8)).IsSuccess);

        Assert.Equal(CommerceErrorCode.BalanceLimitExceeded, (await second.Orders.CancelOrderAsync(order.Id)).Error?.Code);
        Assert.Equal(CommerceErrorCode.InvalidQuantity, (await second.Carts.CheckoutAsync(user)).Error?.Code);
        Assert.Equal(new Money(1_500), await second.Wallets.GetBalanceAsync(user));
        Assert.Equal(8, Assert.Single((await second.Carts.GetCartAsync(user)).Lines).Quantity);

        Assert.True((await first.Orders.CancelOrderAsync(order.Id)).IsSuccess);
        Assert.True((await second.Carts.RemoveItemAsync(user, new ProductId(1))).IsSuccess);
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
