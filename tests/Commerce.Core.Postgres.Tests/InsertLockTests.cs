using Commerce.Postgres.Tests.Support;
using Commerce.Storage;
using Npgsql;

namespace Commerce.Postgres.Tests;

/// <summary>
/// An insert takes its key's exclusive advisory lock before its row, so that a commit which checked the
/// key absent under the shared lock is ordered before it (the insert waits until that commit ends).
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

        // Until the charge's commit is seen waiting for that lock (or, if it took none, has finished).
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await using (var watcher = await shop.Store.DataSource.OpenConnectionAsync())
        {
            await using var waiting = new NpgsqlCommand(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND classid = $1::int::oid AND objid = $2::int::oid AND objsubid = 2",
                watcher);
            waiting.Parameters.AddWithValue(table);
            waiting.Parameters.AddWithValue(hash);
            while (!charge.IsCompleted && (long)(await waiting.ExecuteScalarAsync(timeout.Token))! == 0)
            {
                await Task.Yield();
            }
        }

        Assert.False(charge.IsCompleted, "The insert did not wait for the key's shared lock.");
        await transaction.CommitAsync();
        Assert.True((await charge).IsSuccess);
        Assert.Equal(new Money(5), await shop.Wallets.GetBalanceAsync(user));
    }
}
