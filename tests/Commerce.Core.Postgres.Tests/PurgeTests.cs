using Commerce.Postgres.Tests.Support;
using Commerce.Storage;

namespace Commerce.Postgres.Tests;

/// <summary>The purge of expired idempotency records: one statement, exact to the tick, failing the units of work that read what it removed.</summary>
public sealed class PurgeTests
{
    private static readonly UserId Alice = new(1);
    private static readonly UserId Bob = new(2);

    [PostgresFact]
    public async Task A_purge_removes_exactly_the_records_created_before_the_instant_in_one_round_trip()
    {
        await using var shop = await PgShop.CreateAsync();
        var at = PgShop.Start.AddTicks(3);
        Assert.True(await LedgerIdempotencySessionTests.CommitAsync(
            shop,
            Insert(Alice, "a", at),
            Insert(Alice, "b", at.AddTicks(1)),
            Insert(Bob, "a", at.AddMicroseconds(1)),
            Insert(Bob, "b", at.AddHours(1))));

        Assert.Equal(0, await PurgeAsync(shop, at));
        Assert.Equal(1, await PurgeAsync(shop, at.AddTicks(1)));
        Assert.Equal(0, await PurgeAsync(shop, at.AddTicks(1)));
        var trips = shop.Store.RoundTrips;
        Assert.Equal(2, await PurgeAsync(shop, at.AddMinutes(1)));
        Assert.Equal(1, shop.Store.RoundTrips - trips);
        Assert.Equal("2:b", await shop.ScalarAsync<string>("SELECT string_agg(user_id || ':' || key, ',') FROM {s}.idempotency"));
        Assert.Equal(1L, await shop.ScalarAsync<long>("SELECT count(*) FROM pg_indexes WHERE schemaname = '" + shop.Schema + "' AND indexname = 'idempotency_created_at_idx'"));
    }

    [PostgresFact]
    public async Task A_unit_of_work_that_read_a_purged_record_fails_its_commit_and_its_retry_finds_the_key_free()
    {
        await using var shop = await PgShop.CreateAsync();
        Assert.True(await LedgerIdempotencySessionTests.CommitAsync(shop, Insert(Alice, "a", PgShop.Start), Insert(Alice, "b", PgShop.Start)));

        // Read, then a write elsewhere: the record's check fails.
        await using (var reader = await shop.Store.BeginAsync())
        {
            Assert.NotNull(await reader.Idempotency.FindAsync(Alice, IdempotentOperation.Charge, "a"));
            reader.Wallets.Save(new Wallet(Bob, new Money(1)));
            Assert.Equal(2, await PurgeAsync(shop, PgShop.Start.AddDays(1)));
            Assert.False(await reader.CommitAsync());
        }

        // Read, then replaced (an expired record): the update finds no row.
        await using (var replacer = await shop.Store.BeginAsync())
        {
            Assert.True(await LedgerIdempotencySessionTests.CommitAsync(shop, Insert(Alice, "c", PgShop.Start)));
            var expired = (await replacer.Idempotency.FindAsync(Alice, IdempotentOperation.Charge, "c"))!;
            replacer.Idempotency.Save(expired with { CreatedAt = PgShop.Start.AddDays(2), RequestHash = 2 });
            Assert.Equal(1, await PurgeAsync(shop, PgShop.Start.AddDays(1)));
            Assert.False(await replacer.CommitAsync());
        }

        // Read-only, over two statements: validated, and the record is gone.
        await using (var validated = await shop.Store.BeginAsync())
        {
            Assert.True(await LedgerIdempotencySessionTests.CommitAsync(shop, Insert(Alice, "d", PgShop.Start)));
            Assert.NotNull(await validated.Idempotency.FindAsync(Alice, IdempotentOperation.Charge, "d"));
            Assert.Null(await validated.Wallets.FindAsync(Alice));
            Assert.Equal(1, await PurgeAsync(shop, PgShop.Start.AddDays(1)));
            Assert.False(await validated.CommitAsync());
        }

        await using (var retry = await shop.Store.BeginAsync())
        {
            Assert.Null(await retry.Idempotency.FindAsync(Alice, IdempotentOperation.Charge, "c"));
            retry.Idempotency.Save(new IdempotencyRecord(Alice, IdempotentOperation.Charge, "c", 2, PgShop.Start.AddDays(2), null, new Money(2), null));
            Assert.True(await retry.CommitAsync());
        }

        Assert.Equal("c:2:1", await shop.ScalarAsync<string>("SELECT string_agg(key || ':' || request_hash || ':' || version, ',') FROM {s}.idempotency"));
    }

    [PostgresFact]
    public async Task A_unit_of_work_that_replaces_a_purged_record_fails_even_once_the_key_holds_a_new_record_at_the_same_version()
    {
        await using var shop = await PgShop.CreateAsync();
        Assert.True(await LedgerIdempotencySessionTests.CommitAsync(shop, Insert(Alice, "a", PgShop.Start)));

        // Read expired, to be replaced; meanwhile purged, and the key taken by another request, whose record
        // starts at the first version again, as the purged one did.
        await using var replacer = await shop.Store.BeginAsync();
        var expired = (await replacer.Idempotency.FindAsync(Alice, IdempotentOperation.Charge, "a"))!;
        replacer.Idempotency.Save(expired with { CreatedAt = PgShop.Start.AddDays(2), RequestHash = 2 });
        Assert.Equal(1, await PurgeAsync(shop, PgShop.Start.AddDays(1)));
        Assert.True(await LedgerIdempotencySessionTests.CommitAsync(
            shop,
            ChangeSets.Insert(
                StoreKey.ForIdempotency(Alice, IdempotentOperation.Charge, "a"),
                new IdempotencyRecord(Alice, IdempotentOperation.Charge, "a", 3, PgShop.Start.AddDays(2).AddTicks(1), null, new Money(3), null))));

        // The record read is gone: the replacement must not overwrite the new one.
        Assert.False(await replacer.CommitAsync());
        Assert.Equal("a:3:1", await shop.ScalarAsync<string>("SELECT string_agg(key || ':' || request_hash || ':' || version, ',') FROM {s}.idempotency"));
    }

    /// <summary>
    /// A record replacing an expired one is written anew: the purge keeps it a day from then by the server's clock,
    /// whatever its cutoff, since a lookup of the replacing commit may still need it.
    /// </summary>
    [PostgresFact]
    public async Task A_purge_keeps_a_record_replaced_less_than_a_day_ago_by_the_servers_clock()
    {
        await using var shop = await PgShop.CreateAsync(o => o.IdempotencyRetention = TimeSpan.FromSeconds(1));
        await shop.Wallets.ChargeAsync(Alice, new Money(10), new IdempotencyKey("a"));
        await shop.AgeIdempotencyRecordsAsync();
        shop.Time.Advance(TimeSpan.FromSeconds(2));
        Assert.Equal(new Money(30), (await shop.Wallets.ChargeAsync(Alice, new Money(20), new IdempotencyKey("a"))).Value); // Replaces the expired record.

        await using (var session = await shop.Store.OpenSessionAsync())
        {
            Assert.Equal(0, await session.PurgeIdempotencyAsync(shop.Time.GetUtcNow().AddDays(1)));
        }

        Assert.Equal("a:2", await shop.ScalarAsync<string>("SELECT string_agg(key || ':' || version, ',') FROM {s}.idempotency"));
        await shop.AgeIdempotencyRecordsAsync();
        Assert.Equal(1, await PurgeAsync(shop, shop.Time.GetUtcNow().AddDays(1)));
    }

    [PostgresFact]
    public async Task Keyed_requests_purge_expired_records_once_a_quarter_of_the_retention_has_passed()
    {
        await using var shop = await PgShop.CreateAsync(o => o.IdempotencyRetention = TimeSpan.FromHours(1));
        await shop.Wallets.ChargeAsync(Alice, new Money(10), new IdempotencyKey("first"));
        shop.Time.Advance(TimeSpan.FromMinutes(10));
        await shop.Wallets.ChargeAsync(Alice, new Money(10), new IdempotencyKey("second"));
        shop.Time.Advance(TimeSpan.FromMinutes(55));
        await shop.AgeIdempotencyRecordsAsync(); // The server's clock moves on too.

        // Not a quarter since the start yet at the second charge; now past it, and "first" is past its hour.
        await shop.Wallets.ChargeAsync(Alice, new Money(10), new IdempotencyKey("third"));

        Assert.Equal("second,third", await shop.ScalarAsync<string>("SELECT string_agg(key, ',' ORDER BY key) FROM {s}.idempotency"));
        Assert.Equal(new Money(30), await shop.Wallets.GetBalanceAsync(Alice));

        // The purged key is free again: a new request under it runs.
        Assert.Equal(new Money(50), (await shop.Wallets.ChargeAsync(Alice, new Money(20), new IdempotencyKey("first"))).Value);
    }

    private static Change Insert(UserId user, string key, DateTimeOffset createdAt) =>
        ChangeSets.Insert(
            StoreKey.ForIdempotency(user, IdempotentOperation.Charge, key),
            new IdempotencyRecord(user, IdempotentOperation.Charge, key, 1, createdAt, null, new Money(1), null));

    /// <summary>Purges the records created before an instant, every record first made a day old on the server (see <see cref="PgShop.AgeIdempotencyRecordsAsync"/>).</summary>
    private static async Task<int> PurgeAsync(PgShop shop, DateTimeOffset createdBefore)
    {
        await shop.AgeIdempotencyRecordsAsync();
        await using var session = await shop.Store.OpenSessionAsync();
        return await session.PurgeIdempotencyAsync(createdBefore);
    }
}
