using Commerce.Postgres.Tests.Support;
using Commerce.Storage;
using Npgsql;

namespace Commerce.Postgres.Tests;

/// <summary>
/// An insert takes its key's exclusive advisory lock before its row, so that a commit which checked the
/// key absent under the shared lock is ordered before it (the insert waits until that commit ends); and the
/// products' listing is locked shared by a product's insert and exclusively by a commit that checks listed
/// pages, so that no product commits between a page's check and the end of its commit.
/// </summary>
public sealed class InsertLockTests
{
    [PostgresFact]
    public async Task An_insert_waits_for_a_transaction_holding_its_keys_shared_lock()
    {
        await using var shop = await PgShop.CreateAsync();
        var user = new UserId(77);
        var key = StoreKey.ForLedger(user, 1); // the first charge inserts this ledger entry
        var (table, hash) = ((int)key.Table, PostgresRows.LockHash(key));

        await using var checker = await shop.Store.DataSource.OpenConnectionAsync();
        await using var transaction = await checker.BeginTransactionAsync();
        await using (var hold = new NpgsqlCommand("SELECT pg_advisory_xact_lock_shared($1, $2)", checker, transaction))
        {
            hold.Parameters.AddWithValue(table);
            hold.Parameters.AddWithValue(hash);
            await hold.ExecuteNonQueryAsync();
        }

        var charge = shop.Wallets.ChargeAsync(user, new Money(5)).AsTask();

        await UntilWaitingOrDoneAsync(shop, table, hash, charge);
        Assert.False(charge.IsCompleted, "The insert did not wait for the key's shared lock.");
        await transaction.CommitAsync();
        Assert.True((await charge).IsSuccess);
        Assert.Equal(new Money(5), await shop.Wallets.GetBalanceAsync(user));
    }

    [PostgresFact]
    public async Task A_write_that_listed_products_waits_for_a_product_insert_in_flight_and_then_fails()
    {
        await using var shop = await PgShop.CreateAsync();
        Assert.True((await shop.Catalog.AddProductAsync(new ProductId(10), "Ten", new Money(10), 1)).IsSuccess);
        Assert.True((await shop.Catalog.AddProductAsync(new ProductId(20), "Twenty", new Money(20), 1)).IsSuccess);

        // Another commit's product insert, in flight: it holds the listing's shared lock and its uncommitted row.
        await using var inserter = await shop.Store.DataSource.OpenConnectionAsync();
        await using var transaction = await inserter.BeginTransactionAsync();
        await using (var hold = new NpgsqlCommand("SELECT pg_advisory_xact_lock_shared($1, 0)", inserter, transaction))
        {
            hold.Parameters.AddWithValue((int)PostgresCommitBatch.ListingTable);
            await hold.ExecuteNonQueryAsync();
        }

        await using (var insert = new NpgsqlCommand($"INSERT INTO \"{shop.Schema}\".products (id, name, price, version) VALUES (15, 'Fifteen', 15, 1)", inserter, transaction))
        {
            await insert.ExecuteNonQueryAsync();
        }

        // A unit of work lists the products (not 15: uncommitted) and writes.
        await using var listing = await shop.Store.BeginAsync();
        Assert.Equal([10L, 20L], (await listing.Products.ListAsync(null, 10)).Select(p => p.Id.Value));
        listing.Wallets.Save(new Wallet(new UserId(1), new Money(1)));
        var commit = listing.CommitAsync().AsTask();

        await UntilWaitingOrDoneAsync(shop, (int)PostgresCommitBatch.ListingTable, 0, commit);
        Assert.False(commit.IsCompleted, "The write that checked its listed page did not wait for the product insert in flight.");
        await transaction.CommitAsync();
        Assert.False(await commit); // product 15 is in its page now
        Assert.Equal(0, await shop.ScalarAsync<long>("SELECT count(*) FROM {s}.wallets WHERE user_id = 1"));
    }

    [PostgresFact]
    public async Task A_product_insert_waits_for_a_commit_that_checks_listed_pages()
    {
        await using var shop = await PgShop.CreateAsync();

        // A commit that checks listed pages, in flight: it holds the listing's lock exclusively.
        await using var checker = await shop.Store.DataSource.OpenConnectionAsync();
        await using var transaction = await checker.BeginTransactionAsync();
        await using (var hold = new NpgsqlCommand("SELECT pg_advisory_xact_lock($1, 0)", checker, transaction))
        {
            hold.Parameters.AddWithValue((int)PostgresCommitBatch.ListingTable);
            await hold.ExecuteNonQueryAsync();
        }

        var added = shop.Catalog.AddProductAsync(new ProductId(15), "Fifteen", new Money(15), 1).AsTask();

        await UntilWaitingOrDoneAsync(shop, (int)PostgresCommitBatch.ListingTable, 0, added);
        Assert.False(added.IsCompleted, "The product insert did not wait for the commit that checks listed pages.");
        await transaction.CommitAsync();
        Assert.True((await added).IsSuccess);
    }

    /// <summary>Returns once <paramref name="task"/> is seen waiting for the advisory lock (<paramref name="table"/>, <paramref name="hash"/>), or has finished.</summary>
    private static async Task UntilWaitingOrDoneAsync(PgShop shop, int table, int hash, Task task)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await using var watcher = await shop.Store.DataSource.OpenConnectionAsync();
        await using var waiting = new NpgsqlCommand(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND classid = $1::int::oid AND objid = $2::int::oid AND objsubid = 2",
            watcher);
        waiting.Parameters.AddWithValue(table);
        waiting.Parameters.AddWithValue(hash);
        while (!task.IsCompleted && (long)(await waiting.ExecuteScalarAsync(timeout.Token))! == 0)
        {
            await Task.Yield();
        }
    }
}
