using Commerce.Postgres.Tests.Support;
using Commerce.Storage;

namespace Commerce.Postgres.Tests;

/// <summary>
/// Group reads: with group commit on, the key reads of concurrent units of work go to the server together
/// (<see cref="PostgresGroupReader"/>), and each still gets the states of its own keys.
/// </summary>
public sealed class GroupReadTests
{
    private static readonly ProductId Apple = new(10);
    private static readonly ProductId Pear = new(20);
    private static readonly ProductId Missing = new(99);
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(60);

    [PostgresFact]
    public async Task Concurrent_reads_each_get_the_states_of_their_own_keys()
    {
        await using var shop = await GroupShopAsync();
        for (var user = 1; user <= 20; user += 2)
        {
            Assert.True((await shop.Wallets.ChargeAsync(new UserId(user), new Money(user * 10))).IsSuccess);
        }

        var reader = Reader(shop);
        var before = reader.GroupsSent;

        // Twenty sessions at once, each reading a wallet (present for odd users), the stock of Apple, the
        // product Pear and a product that does not exist.
        var reads = Enumerable.Range(1, 20).Select(user => Task.Run(async () =>
        {
            await using var session = await shop.Store.OpenSessionAsync();
            var batch = ChangeSets.NewBatch(StoreKey.ForWallet(new UserId(user)), StoreKey.ForStock(Apple), StoreKey.ForProduct(Pear), StoreKey.ForProduct(Missing));
            await session.ReadAsync(batch);
            return (User: user, Batch: batch);
        })).ToArray();

        foreach (var (user, batch) in await Task.WhenAll(reads))
        {
            var wallet = ChangeSets.ResultOf(batch, 0);
            if (user % 2 == 1)
            {
                Assert.Equal(new Wallet(new UserId(user), new Money(user * 10), 1), wallet.State);
                Assert.Equal(1, wallet.Version);
            }
            else
            {
                Assert.Null(wallet.State);
            }

            Assert.Equal(new StockItem(Apple, 5), ChangeSets.ResultOf(batch, 1).State);
            Assert.Equal("Pear", Assert.IsType<Product>(ChangeSets.ResultOf(batch, 2).State).Name);
            Assert.Null(ChangeSets.ResultOf(batch, 3).State);

            // Every state carries the session's first read statement as its handle, absent ones included.
            Assert.All(Enumerable.Range(0, 4), i => Assert.Equal(PostgresReads.Statement(1), ChangeSets.ResultOf(batch, i).Handle));
        }

        Assert.InRange(reader.GroupsSent - before, 1, 20);
    }

    [PostgresFact]
    public async Task A_read_whose_connection_was_lost_is_sent_again_on_a_fresh_one()
    {
        await using var shop = await GroupShopAsync();
        var reader = Reader(shop);
        Assert.Equal(5, (await shop.Catalog.GetProductAsync(Apple)).Value.Stock); // the reader opens its connection
        await FaultTests.TerminateAsync(reader.ConnectionProcessId!.Value);
        var before = reader.GroupsSent;

        Assert.Equal(5, (await shop.Catalog.GetProductAsync(Apple)).Value.Stock);

        Assert.Equal(2, reader.GroupsSent - before); // the read on the dead connection, then again
    }

    [PostgresFact]
    public async Task Orders_placed_by_many_callers_with_reads_and_commits_grouped_keep_every_invariant()
    {
        await using var shop = await GroupShopAsync();
        for (var user = 1; user <= 16; user++)
        {
            Assert.True((await shop.Wallets.ChargeAsync(new UserId(user), new Money(100))).IsSuccess);
        }

        // 16 callers, 3 orders each of 1 apple (30) and 1 pear (30): 10 apples and 10 pears in stock in all.
        await shop.Catalog.RestockAsync(Apple, 5);
        await shop.Catalog.RestockAsync(Pear, 5);
        var placed = await Task.WhenAll(Enumerable.Range(1, 16).Select(user => Task.Run(async () =>
        {
            var count = 0;
            for (var i = 0; i < 3; i++)
            {
                var result = await shop.Orders.PlaceOrderAsync(new UserId(user), [new(Apple, 1), new(Pear, 1)]);
                count += result.IsSuccess ? 1 : 0;
                Assert.True(result.IsSuccess || result.Error!.Code is CommerceErrorCode.InsufficientStock or CommerceErrorCode.InsufficientBalance, result.Error?.Message);
            }

            return count;
        })));

        Assert.Equal(10, placed.Sum()); // exactly the stock
        Assert.Equal(0, (await shop.Catalog.GetProductAsync(Apple)).Value.Stock);
        Assert.Equal(0, (await shop.Catalog.GetProductAsync(Pear)).Value.Stock);
        Assert.Equal(1_600L - (10 * 60), await shop.ScalarAsync<long>("SELECT sum(balance) FROM {s}.wallets"));
        Assert.Equal(10L, await shop.ScalarAsync<long>("SELECT count(*) FROM {s}.orders"));
        Assert.Equal("10:10;20:10", await shop.ScalarAsync<string>("SELECT string_agg(product_id || ':' || total, ';' ORDER BY product_id) FROM (SELECT product_id, sum(quantity) AS total FROM {s}.sales GROUP BY product_id) s"));

        // Every wallet's ledger runs 1, 2, … without a gap and ends at its balance.
        Assert.Equal(0L, await shop.ScalarAsync<long>(
            """
            SELECT count(*) FROM {s}.wallets w
            WHERE w.ledger_length <> (SELECT count(*) FROM {s}.ledger l WHERE l.user_id = w.user_id)
               OR w.ledger_length <> (SELECT max(seq) FROM {s}.ledger l WHERE l.user_id = w.user_id)
               OR w.balance <> (SELECT balance_after FROM {s}.ledger l WHERE l.user_id = w.user_id AND l.seq = w.ledger_length)
            """));
    }

    [PostgresFact]
    public async Task A_read_after_the_store_is_disposed_is_refused()
    {
        var shop = await GroupShopAsync();
        var reader = Reader(shop);
        await reader.DisposeAsync();

        await Assert.ThrowsAsync<ObjectDisposedException>(() => reader.ReadAsync(ChangeSets.NewBatch(StoreKey.ForStock(Apple)), PostgresReads.Statement(1), CancellationToken.None).AsTask());
        await shop.DisposeAsync();
    }

    /// <summary>
    /// A group read in flight when the store is disposed, on a server that stopped responding, with no command timeout:
    /// the reader sent it with no token that the disposal cancels, so the disposal waited for it for ever. Here the
    /// server's answers stop from the read on (a proxy swallows it). The disposal ends once its grace (here 100 ms) has passed, and
    /// the read, which applies nothing, is refused as any read after the disposal is.
    /// </summary>
    [PostgresFact]
    public async Task Disposing_the_store_ends_a_group_read_in_flight_on_a_server_that_stopped_responding()
    {
        var proxy = new TcpProxy(PgShop.RequiredConnectionString);
        var shop = await PgShop.CreateAsync(store: o =>
        {
            o.ConnectionString = proxy.ConnectionString + ";Maximum Pool Size=8;Max Auto Prepare=0";
            o.CommandTimeout = 0;
            o.GroupCommit = true;
            o.ShutdownTimeout = TimeSpan.FromMilliseconds(100); // its grace: the server never answers
        });
        try
        {
            proxy.StallOn(PostgresSql.ReadCommitted); // the first statement of every read's batch
            var read = Reader(shop).ReadAsync(ChangeSets.NewBatch(StoreKey.ForStock(Apple)), PostgresReads.Statement(1), CancellationToken.None).AsTask();
            await proxy.Stalled.WaitAsync(Generous);

            await shop.Store.DisposeAsync().AsTask().WaitAsync(Generous);

            await Assert.ThrowsAsync<ObjectDisposedException>(() => read.WaitAsync(Generous));
        }
        finally
        {
            await proxy.DisposeAsync(); // first: what still waits on the server then sees its connection lost
            await shop.DisposeAsync();
        }
    }

    /// <summary>A shop with group commit on, products Apple and Pear (price 30, stock 5 each).</summary>
    private static async Task<PgShop> GroupShopAsync()
    {
        var shop = await PgShop.CreateAsync(store: o => o.GroupCommit = true);
        await shop.Catalog.AddProductAsync(Apple, "Apple", new Money(30), 5);
        await shop.Catalog.AddProductAsync(Pear, "Pear", new Money(30), 5);
        return shop;
    }

    private static PostgresGroupReader Reader(PgShop shop) =>
        shop.Store.GroupReader ?? throw new InvalidOperationException("Group commit is off.");
}
