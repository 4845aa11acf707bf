using Commerce.Postgres.Tests.Support;
using Commerce.Storage;

namespace Commerce.Postgres.Tests;

/// <summary>
/// The store's session on the ledger, idempotency records, order cancellation and sales decreases:
/// batch reads, and change sets built by hand.
/// </summary>
public sealed class LedgerIdempotencySessionTests
{
    private static readonly UserId Alice = new(1);
    private static readonly UserId Bob = new(2);
    private static readonly ProductId Apple = new(10);
    private static readonly ProductId Pear = new(20);

    [PostgresFact]
    public async Task Ledger_entries_and_idempotency_records_read_back_exactly_in_one_round_trip_with_the_other_tables()
    {
        await using var shop = await PgShop.CreateAsync();
        await shop.Catalog.AddProductAsync(Apple, "Apple", new Money(30), 5);
        shop.Time.Advance(TimeSpan.FromTicks(3));
        var charged = shop.Time.GetUtcNow();
        Assert.Equal(new Money(100), (await shop.Wallets.ChargeAsync(Alice, new Money(100), new IdempotencyKey("c-1"))).Value);
        shop.Time.Advance(TimeSpan.FromTicks(7));
        var order = (await shop.Orders.PlaceOrderAsync(Alice, [new(Apple, 1)], new IdempotencyKey("o-1"))).Value;
        shop.Time.Advance(TimeSpan.FromTicks(1));
        var refusedAt = shop.Time.GetUtcNow();
        var refused = await shop.Orders.PlaceOrderAsync(Alice, [new(new ProductId(99), 1), new(new ProductId(98), 1)], new IdempotencyKey("o-2"));
        Assert.Equal(CommerceErrorCode.ProductNotFound, refused.Error!.Code);

        await using var unitOfWork = await shop.Store.BeginAsync();
        StoreKey[] keys =
        [
            StoreKey.ForWallet(Alice), StoreKey.ForOrder(order.Id), StoreKey.ForProduct(Apple),
            StoreKey.ForLedger(Alice, 1), StoreKey.ForLedger(Alice, 2), StoreKey.ForLedger(Alice, 3), StoreKey.ForLedger(Bob, 1),
            StoreKey.ForIdempotency(Alice, IdempotentOperation.Charge, "c-1"), StoreKey.ForIdempotency(Alice, IdempotentOperation.PlaceOrder, "o-1"),
            StoreKey.ForIdempotency(Alice, IdempotentOperation.PlaceOrder, "o-2"), StoreKey.ForIdempotency(Alice, IdempotentOperation.Checkout, "c-1"),
            StoreKey.ForIdempotency(Bob, IdempotentOperation.Charge, "c-1"),
        ];
        foreach (var key in keys)
        {
            unitOfWork.Prefetch(key);
        }

        var before = shop.Store.RoundTrips;
        await unitOfWork.LoadAsync();
        Assert.Equal(1, shop.Store.RoundTrips - before);

        Assert.Equal(new Wallet(Alice, new Money(70), 2), await unitOfWork.Wallets.FindAsync(Alice));
        Assert.Equal(order, await unitOfWork.Orders.FindAsync(order.Id));
        Assert.Equal(new LedgerEntry(1, Alice, LedgerEntryKind.Charge, new Money(100), new Money(100), null, charged), await unitOfWork.Ledger.FindAsync(Alice, 1));
        var payment = (await unitOfWork.Ledger.FindAsync(Alice, 2))!;
        Assert.Equal(new LedgerEntry(2, Alice, LedgerEntryKind.Payment, new Money(30), new Money(70), order.Id, order.PlacedAt), payment);
        Assert.Equal(order.PlacedAt.UtcTicks, payment.At.UtcTicks);
        Assert.Null(await unitOfWork.Ledger.FindAsync(Alice, 3));
        Assert.Null(await unitOfWork.Ledger.FindAsync(Bob, 1));

        var charge = (await unitOfWork.Idempotency.FindAsync(Alice, IdempotentOperation.Charge, "c-1"))!;
        Assert.Equal(new IdempotencyRecord(Alice, IdempotentOperation.Charge, "c-1", 100, charged, null, new Money(100), null), charge);
        Assert.Equal(charged.UtcTicks, charge.CreatedAt.UtcTicks);
        var placed = (await unitOfWork.Idempotency.FindAsync(Alice, IdempotentOperation.PlaceOrder, "o-1"))!;
        Assert.Equal((order.PlacedAt, (OrderId?)order.Id, (CommerceError?)null), (placed.CreatedAt, placed.OrderId, placed.Error));
        var refusal = (await unitOfWork.Idempotency.FindAsync(Alice, IdempotentOperation.PlaceOrder, "o-2"))!;
        Assert.Equal((IdempotentOperation.PlaceOrder, "o-2", refusedAt, Money.Zero, (OrderId?)null), (refusal.Operation, refusal.Key, refusal.CreatedAt, refusal.Balance, refusal.OrderId));
        Assert.Equal(refused.Error!.Code, refusal.Error!.Code);
        Assert.Equal(refused.Error!.Message, refusal.Error.Message);
        Assert.Equal([new ProductId(98), new ProductId(99)], refusal.Error.ProductIds);
        Assert.Null(await unitOfWork.Idempotency.FindAsync(Alice, IdempotentOperation.Checkout, "c-1"));
        Assert.Null(await unitOfWork.Idempotency.FindAsync(Bob, IdempotentOperation.Charge, "c-1"));

        // One statement is one snapshot: the read-only unit of work commits without validating.
        Assert.True(await unitOfWork.CommitAsync());
        Assert.Equal(1, shop.Store.RoundTrips - before);
    }

    [PostgresFact]
    public async Task An_insert_over_an_existing_ledger_entry_or_idempotency_record_fails_the_commit_and_applies_nothing()
    {
        await using var shop = await PgShop.CreateAsync();
        await shop.Wallets.ChargeAsync(Alice, new Money(100), new IdempotencyKey("k"));
        var entry = new LedgerEntry(1, Alice, LedgerEntryKind.Charge, new Money(5), new Money(5), null, PgShop.Start);
        var record = new IdempotencyRecord(Alice, IdempotentOperation.Charge, "k", 5, PgShop.Start, null, new Money(5), null);
        var fresh = ChangeSets.Insert(StoreKey.ForWallet(Bob), new Wallet(Bob, new Money(1)));

        Assert.False(await CommitAsync(shop, fresh, ChangeSets.Insert(StoreKey.ForLedger(Alice, 1), entry)));
        Assert.False(await CommitAsync(shop, fresh, ChangeSets.Insert(StoreKey.ForIdempotency(Alice, IdempotentOperation.Charge, "k"), record)));

        Assert.Equal(0L, await shop.ScalarAsync<long>("SELECT count(*) FROM {s}.wallets WHERE user_id = 2"));
        Assert.Equal("1,100,100", await shop.ScalarAsync<string>("SELECT concat_ws(',', seq, amount, balance_after) FROM {s}.ledger"));
        Assert.Equal("100,100,1", await shop.ScalarAsync<string>("SELECT concat_ws(',', request_hash, balance, version) FROM {s}.idempotency"));
    }

    [PostgresFact]
    public async Task An_idempotency_record_is_replaced_only_at_the_version_read_and_a_ledger_entry_never()
    {
        await using var shop = await PgShop.CreateAsync();
        await shop.Wallets.ChargeAsync(Alice, new Money(100), new IdempotencyKey("k"));
        var key = StoreKey.ForIdempotency(Alice, IdempotentOperation.Charge, "k");
        var seen = await ReadAsync(shop, key);
        Assert.Equal(1, seen.Version);
        var replacement = new IdempotencyRecord(
            Alice, IdempotentOperation.Charge, "k", 7, PgShop.Start.AddDays(2).AddTicks(9), new CommerceError(CommerceErrorCode.InsufficientStock, "short", [Pear, Apple]), Money.Zero, null);

        Assert.True(await CommitAsync(shop, ChangeSets.Update(key, seen, replacement)));
        Assert.False(await CommitAsync(shop, ChangeSets.Update(key, seen, replacement with { RequestHash = 8 })));

        var now = await ReadAsync(shop, key);
        Assert.Equal(2, now.Version);
        var read = (IdempotencyRecord)now.State!;
        Assert.Equal(replacement with { Error = read.Error }, read);
        Assert.Equal((CommerceErrorCode.InsufficientStock, "short"), (read.Error!.Code, read.Error.Message));
        Assert.Equal([Apple, Pear], read.Error.ProductIds.Order());

        // A ledger entry is written once: replacing it is refused before anything is sent.
        var entry = await ReadAsync(shop, StoreKey.ForLedger(Alice, 1));
        await using var session = await shop.Store.OpenSessionAsync();
        var trips = shop.Store.RoundTrips;
        Assert.False(await session.CommitAsync(ChangeSets.Of(
            ChangeSets.Update(StoreKey.ForLedger(Alice, 1), entry, (LedgerEntry)entry.State! with { Amount = new Money(1) }))));
        Assert.Equal(trips, shop.Store.RoundTrips);
    }

    [PostgresFact]
    public async Task An_order_is_cancelled_at_the_version_read_and_reads_back_exactly()
    {
        await using var shop = await PgShop.CreateAsync();
        await shop.Catalog.AddProductAsync(Apple, "Apple", new Money(30), 5);
        await shop.Wallets.ChargeAsync(Alice, new Money(100));
        var order = (await shop.Orders.PlaceOrderAsync(Alice, [new(Apple, 2)])).Value;
        var key = StoreKey.ForOrder(order.Id);
        var seen = await ReadAsync(shop, key);
        Assert.Equal(1, seen.Version);
        var cancelled = order.Cancel(PgShop.Start.AddHours(1).AddTicks(3)).Value;

        // Any other change of an order is not supported.
        var other = new Order(order.Id, Bob, order.Lines, order.PlacedAt, cancelled.CancelledAt);
        await Assert.ThrowsAsync<NotSupportedException>(() => CommitAsync(shop, ChangeSets.Update(key, seen, other)));

        Assert.True(await CommitAsync(shop, ChangeSets.Update(key, seen, cancelled)));
        Assert.False(await CommitAsync(shop, ChangeSets.Update(key, seen, order.Cancel(PgShop.Start.AddHours(2)).Value)));

        // A read of the order at its old version no longer holds.
        Assert.False(await CommitAsync(shop, ChangeSets.Read(key, seen), ChangeSets.Insert(StoreKey.ForWallet(Bob), new Wallet(Bob, Money.Zero))));

        var now = await ReadAsync(shop, key);
        var read = (Order)now.State!;
        Assert.Equal(2, now.Version);
        Assert.Equal(cancelled, read);
        Assert.Equal(OrderStatus.Cancelled, read.Status);
        Assert.Equal(cancelled.CancelledAt!.Value.UtcTicks, read.CancelledAt!.Value.UtcTicks);
        Assert.Equal(OrderStatus.Cancelled, (await shop.Orders.GetOrderAsync(order.Id)).Value.Status);
    }

    [PostgresFact]
    public async Task A_sales_decrease_stays_at_or_above_its_minimum_and_zero_totals_do_not_rank()
    {
        await using var shop = await PgShop.CreateAsync();
        await shop.Catalog.AddProductAsync(Apple, "Apple", new Money(30), 5);
        await shop.Catalog.AddProductAsync(Pear, "Pear", new Money(30), 5);
        var bucket = SalesWindowBucket(shop, PgShop.Start);
        var apple = StoreKey.ForSales(bucket, Apple);
        var pear = StoreKey.ForSales(bucket, Pear);
        Assert.True(await CommitAsync(shop, ChangeSets.Adjust(apple, 5), ChangeSets.Adjust(pear, 1)));

        Assert.True(await CommitAsync(shop, ChangeSets.Adjust(apple, -3)));
        Assert.False(await CommitAsync(shop, ChangeSets.Adjust(apple, -3), ChangeSets.Adjust(pear, 4)));
        Assert.False(await CommitAsync(shop, ChangeSets.Adjust(apple, -1, minimum: 2)));
        Assert.False(await CommitAsync(shop, ChangeSets.Adjust(apple, 1, minimum: 4)));
        Assert.False(await CommitAsync(shop, ChangeSets.Adjust(StoreKey.ForSales(bucket + 1, Apple), -1))); // absent: zero
        Assert.Equal("2,1", await shop.ScalarAsync<string>("SELECT string_agg(quantity::text, ',' ORDER BY product_id) FROM {s}.sales"));

        Assert.True(await CommitAsync(shop, ChangeSets.Adjust(apple, -2)));
        Assert.Equal(0L, await shop.ScalarAsync<long>("SELECT quantity FROM {s}.sales WHERE product_id = 10"));
        var popular = await shop.Ranking.GetPopularProductsAsync();
        Assert.Equal([Pear], popular.Select(p => p.ProductId));
    }

    [PostgresFact]
    public async Task A_wallet_keeps_its_ledger_length_through_insert_update_and_adjustment()
    {
        await using var shop = await PgShop.CreateAsync();
        Assert.True(await CommitAsync(shop, ChangeSets.Insert(StoreKey.ForWallet(Bob), new Wallet(Bob, new Money(10), 3))));
        var seen = await ReadAsync(shop, StoreKey.ForWallet(Bob));
        Assert.Equal(new Wallet(Bob, new Money(10), 3), seen.State);

        Assert.True(await CommitAsync(shop, ChangeSets.Update(StoreKey.ForWallet(Bob), seen, new Wallet(Bob, new Money(4), 4))));
        Assert.True(await CommitAsync(shop, ChangeSets.Adjust(StoreKey.ForWallet(Bob), 6)));
        Assert.Equal(new Wallet(Bob, new Money(10), 4), (await ReadAsync(shop, StoreKey.ForWallet(Bob))).State);
    }

    [PostgresFact]
    public async Task A_read_only_unit_of_work_over_records_orders_and_ledger_fails_if_any_moved_between_its_reads()
    {
        await using var shop = await PgShop.CreateAsync();
        await shop.Catalog.AddProductAsync(Apple, "Apple", new Money(30), 5);
        await shop.Wallets.ChargeAsync(Alice, new Money(100), new IdempotencyKey("k"));
        var order = (await shop.Orders.PlaceOrderAsync(Alice, [new(Apple, 1)])).Value;

        // The record (one statement), then the order and an absent ledger entry (another): validated at commit.
        await using (var steady = await shop.Store.BeginAsync())
        {
            Assert.NotNull(await steady.Idempotency.FindAsync(Alice, IdempotentOperation.Charge, "k"));
            steady.Prefetch(StoreKey.ForOrder(order.Id));
            Assert.Null(await steady.Ledger.FindAsync(Alice, 3));
            var trips = shop.Store.RoundTrips;
            Assert.True(await steady.CommitAsync());
            Assert.Equal(1, shop.Store.RoundTrips - trips);
        }

        await using (var torn = await shop.Store.BeginAsync())
        {
            Assert.NotNull(await torn.Orders.FindAsync(order.Id));
            await shop.Orders.CancelOrderAsync(order.Id);
            Assert.NotNull(await torn.Idempotency.FindAsync(Alice, IdempotentOperation.Charge, "k"));
            Assert.False(await torn.CommitAsync());
        }

        await using (var appeared = await shop.Store.BeginAsync())
        {
            Assert.NotNull(await appeared.Idempotency.FindAsync(Alice, IdempotentOperation.Charge, "k"));
            Assert.Null(await appeared.Ledger.FindAsync(Alice, 4));
            await shop.Wallets.ChargeAsync(Alice, new Money(1));
            Assert.False(await appeared.CommitAsync());
        }
    }

    internal static async Task<bool> CommitAsync(PgShop shop, params Change[] changes)
    {
        await using var session = await shop.Store.OpenSessionAsync();
        return await session.CommitAsync(ChangeSets.Of(changes));
    }

    internal static async Task<StoredState> ReadAsync(PgShop shop, StoreKey key)
    {
        await using var session = await shop.Store.OpenSessionAsync();
        var batch = ChangeSets.NewBatch(key);
        await session.ReadAsync(batch);
        return ChangeSets.ResultOf(batch, 0);
    }

    private static long SalesWindowBucket(PgShop shop, DateTimeOffset at) =>
        Math.DivRem((at - DateTimeOffset.UnixEpoch).Ticks, shop.Store.RankingResolution.Ticks).Quotient;
}
