using Commerce.Conformance;
using Commerce.InMemory.LockFree;
using Commerce.InMemory.Tests.Support;
using Commerce.Storage;

namespace Commerce.InMemory.Tests;

/// <summary>
/// The in-memory store keeps the record of a request that succeeded as a <see cref="CompactIdempotencyRecord"/>
/// (the library stages it so): it must come back equal, be replaced and purged like the record, and anything
/// it cannot say is kept whole.
/// </summary>
public sealed class CompactIdempotencyRecordTests
{
    private static readonly UserId Alice = new(1);
    private static readonly DateTimeOffset At = new(2026, 12, 4, 10, 30, 15, 123, TimeSpan.Zero);
    private static readonly OrderId AnOrder = new(Guid.Parse("0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"));

    public static TheoryData<IdempotencyRecord> Compacted() =>
    [
        new(Alice, IdempotentOperation.Charge, "c-1", 42, At, null, new Money(1_250), null),
        new(Alice, IdempotentOperation.Charge, "c-2", -7, At.AddTicks(3), null, Money.Zero, null),
        new(Alice, IdempotentOperation.PlaceOrder, "o-1", long.MinValue, At, null, Money.Zero, AnOrder),
        new(Alice, IdempotentOperation.Checkout, new string('k', IdempotencyKey.MaxLength), long.MaxValue, At, null, Money.Zero, AnOrder),
    ];

    public static TheoryData<IdempotencyRecord> Whole() =>
    [
        new(Alice, IdempotentOperation.PlaceOrder, "refused", 1, At, new CommerceError(CommerceErrorCode.InsufficientBalance, "Not enough."), Money.Zero, null),
        new(Alice, IdempotentOperation.Charge, "offset", 1, new DateTimeOffset(2026, 12, 4, 12, 0, 0, TimeSpan.FromHours(2)), null, new Money(5), null),
        new(Alice, IdempotentOperation.PlaceOrder, "balance", 1, At, null, new Money(5), AnOrder),
        new(Alice, IdempotentOperation.PlaceOrder, "no-order", 1, At, null, Money.Zero, null),
        new(Alice, IdempotentOperation.Charge, "with-order", 1, At, null, new Money(5), AnOrder),
        new(Alice, IdempotentOperation.Charge, null!, 1, At, null, new Money(5), null),
    ];

    [Theory]
    [MemberData(nameof(Compacted))]
    public void A_success_is_compacted_and_comes_back_equal(IdempotencyRecord record)
    {
        var compact = CompactIdempotencyRecord.Of(record)!;

        Assert.Equal(record, compact.ToRecord(Alice));
        Assert.Equal((record.Operation, record.Key, record.RequestHash, record.CreatedAt), (compact.Operation, compact.Key, compact.RequestHash, compact.CreatedAt));
    }

    [Theory]
    [MemberData(nameof(Whole))]
    public void A_record_a_compact_one_cannot_stand_for_has_no_compact_form(IdempotencyRecord record) =>
        Assert.Null(CompactIdempotencyRecord.Of(record));

    [Fact]
    public void A_null_record_is_refused() =>
        Assert.Throws<ArgumentNullException>(() => CompactIdempotencyRecord.Of(null!));

    [Fact]
    public async Task A_record_saved_whole_through_the_repository_is_kept_compact_and_read_back_equal()
    {
        using var shop = InMemoryShop.Create();
        var store = shop.InMemoryStore();
        var record = new IdempotencyRecord(Alice, IdempotentOperation.Charge, "saved", 9, At, null, new Money(3), null);
        await using (var unitOfWork = await UnitOfWork.BeginAsync(store, TimeSpan.FromMinutes(1), pooled: false, default))
        {
            unitOfWork.Idempotency.Save(record);
            Assert.True(await unitOfWork.CommitAsync());
        }

        Assert.IsType<CompactIdempotencyRecord>(StateOf(store, IdempotentOperation.Charge, "saved"));
        await using var reader = await UnitOfWork.BeginAsync(store, TimeSpan.FromMinutes(1), pooled: false, default);
        Assert.Equal(record, await reader.Idempotency.FindAsync(Alice, IdempotentOperation.Charge, "saved"));
    }

    [Fact]
    public async Task Keyed_successes_are_staged_and_kept_compact_refusals_whole_and_a_unit_of_work_reads_them_back_equal()
    {
        using var shop = InMemoryShop.Create();
        await shop.AddProductAsync(1, price: 10, stock: 5);
        await shop.Wallets.ChargeAsync(Alice, new Money(100), new IdempotencyKey("charge"));
        var order = (await shop.KeyedOrderAsync(1, new IdempotencyKey("order"), (1, 2))).Value;
        var refused = await shop.KeyedOrderAsync(1, new IdempotencyKey("refused"), (1, 50));
        Assert.Equal(CommerceErrorCode.InsufficientBalance, refused.Error?.Code);

        var store = shop.InMemoryStore();
        Assert.IsType<CompactIdempotencyRecord>(StateOf(store, IdempotentOperation.Charge, "charge"));
        Assert.IsType<CompactIdempotencyRecord>(StateOf(store, IdempotentOperation.PlaceOrder, "order"));
        Assert.IsType<IdempotencyRecord>(StateOf(store, IdempotentOperation.PlaceOrder, "refused"));

        await using var unitOfWork = await UnitOfWork.BeginAsync(store, TimeSpan.FromMinutes(1), pooled: false, default);
        Assert.Equal(
            new IdempotencyRecord(Alice, IdempotentOperation.Charge, "charge", 100, shop.Time.GetUtcNow(), null, new Money(100), null),
            await unitOfWork.Idempotency.FindAsync(Alice, IdempotentOperation.Charge, "charge"));
        var placed = (await unitOfWork.Idempotency.FindAsync(Alice, IdempotentOperation.PlaceOrder, "order"))!;
        Assert.Equal((order.Id, (CommerceError?)null, Money.Zero), (placed.OrderId, placed.Error, placed.Balance));

        // A retry is answered from the compact record.
        Assert.Equal(order, (await shop.KeyedOrderAsync(1, new IdempotencyKey("order"), (1, 2))).Value);
        Assert.Equal(new Money(100), (await shop.Wallets.ChargeAsync(Alice, new Money(100), new IdempotencyKey("charge"))).Value);
        Assert.Equal(new Money(80), await shop.Wallets.GetBalanceAsync(Alice));
    }

    [Fact]
    public async Task An_expired_compact_record_is_replaced_by_the_next_request_under_its_key()
    {
        var retention = TimeSpan.FromHours(1);
        using var shop = InMemoryShop.Create(o => o.IdempotencyRetention = retention);
        await shop.Wallets.ChargeAsync(Alice, new Money(100), new IdempotencyKey("charge"));
        var store = shop.InMemoryStore();
        var first = Assert.IsType<CompactIdempotencyRecord>(StateOf(store, IdempotentOperation.Charge, "charge"));

        // Past the retention, before any purge: the request runs again, and its commit replaces the kept
        // record it read (expecting that state, not the record made back from it).
        shop.Time.Advance(retention + TimeSpan.FromSeconds(1));
        Assert.Equal(new Money(107), (await shop.Wallets.ChargeAsync(Alice, new Money(7), new IdempotencyKey("charge"))).Value);

        var second = Assert.IsType<CompactIdempotencyRecord>(StateOf(store, IdempotentOperation.Charge, "charge"));
        Assert.NotSame(first, second);
        Assert.Equal(shop.Time.GetUtcNow(), second.CreatedAt);
        Assert.Equal(new Money(107), (await shop.Wallets.ChargeAsync(Alice, new Money(7), new IdempotencyKey("charge"))).Value);
    }

    [Fact]
    public async Task A_purge_retires_expired_compact_and_whole_records_alike_and_keeps_the_live_ones()
    {
        using var shop = InMemoryShop.Create(o => o.IdempotencyRetention = TimeSpan.FromDays(30));
        await shop.AddProductAsync(1, price: 10, stock: 5);
        await shop.Wallets.ChargeAsync(Alice, new Money(100), new IdempotencyKey("charge"));
        await shop.KeyedOrderAsync(1, new IdempotencyKey("order"), (1, 2));
        await shop.KeyedOrderAsync(1, new IdempotencyKey("refused"), (1, 50));
        var cutoff = shop.Time.GetUtcNow().AddTicks(1);
        shop.Time.Advance(TimeSpan.FromMinutes(1));
        await shop.KeyedOrderAsync(1, new IdempotencyKey("live"), (1, 1));

        var store = shop.InMemoryStore();
        Assert.Equal(3, await new InMemorySession(store).PurgeIdempotencyAsync(cutoff));

        Assert.Null(store.Idempotency.Find(CellKeyOf(store, IdempotentOperation.Charge, "charge")));
        Assert.Null(store.Idempotency.Find(CellKeyOf(store, IdempotentOperation.PlaceOrder, "order")));
        Assert.Null(store.Idempotency.Find(CellKeyOf(store, IdempotentOperation.PlaceOrder, "refused")));
        Assert.IsType<CompactIdempotencyRecord>(StateOf(store, IdempotentOperation.PlaceOrder, "live"));
    }

    private static CellKey CellKeyOf(InMemoryCommerceStore store, IdempotentOperation operation, string key) =>
        CellKey.From(StoreKey.ForIdempotency(Alice, operation, key, store));

    private static object StateOf(InMemoryCommerceStore store, IdempotentOperation operation, string key) =>
        MultiWordCas.Read(Assert.IsType<Cell>(store.Idempotency.Find(CellKeyOf(store, operation, key))));
}

/// <summary>What the library stages for a store that keeps records compact, and for one that does not.</summary>
public sealed class CompactIdempotencyStagingTests
{
    private static readonly UserId Alice = new(1);

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Successes_are_staged_compact_only_for_a_store_that_keeps_them_so_and_refusals_always_whole(bool compact)
    {
        CapturingStore? capturing = null;
        using var shop = InMemoryShop.Create(wrap: store => capturing = compact ? new CompactCapturingStore(store) : new CapturingStore(store));
        await shop.AddProductAsync(1, price: 10, stock: 5);
        await shop.Wallets.ChargeAsync(Alice, new Money(100), new IdempotencyKey("charge"));
        await shop.KeyedOrderAsync(1, new IdempotencyKey("order"), (1, 2));
        await shop.KeyedOrderAsync(1, new IdempotencyKey("refused"), (1, 50));

        var staged = capturing!.Staged;
        Assert.Equal(3, staged.Count);
        Assert.All(staged.Take(2), state => Assert.IsType(compact ? typeof(CompactIdempotencyRecord) : typeof(IdempotencyRecord), state));
        Assert.IsType<IdempotencyRecord>(staged[2]);

        // Either way, a retry is answered from what was kept.
        Assert.Equal(new Money(100), (await shop.Wallets.ChargeAsync(Alice, new Money(100), new IdempotencyKey("charge"))).Value);
        Assert.Equal(CommerceErrorCode.InsufficientBalance, (await shop.KeyedOrderAsync(1, new IdempotencyKey("refused"), (1, 50))).Error?.Code);
        Assert.Equal(new Money(80), await shop.Wallets.GetBalanceAsync(Alice));
    }

    /// <summary>Passes everything to the in-memory store, noting each idempotency state a commit writes.</summary>
    private class CapturingStore(ICommerceStore inner) : ICommerceStore
    {
        public List<object> Staged { get; } = [];

        public async ValueTask<IStoreSession> OpenSessionAsync(CancellationToken cancellationToken = default) =>
            new Session(this, await inner.OpenSessionAsync(cancellationToken));

        private sealed class Session(CapturingStore store, IStoreSession session) : DelegatingStoreSession(session)
        {
            public override async ValueTask<bool> CommitAsync(ChangeSet changes, CancellationToken cancellationToken = default)
            {
                var committed = await Inner.CommitAsync(changes, cancellationToken);
                if (committed)
                {
                    foreach (var change in changes.Changes)
                    {
                        if (change.Key.Table == StoreTable.Idempotency && change.State is { } state)
                        {
                            lock (store.Staged)
                            {
                                store.Staged.Add(state);
                            }
                        }
                    }
                }

                return committed;
            }
        }
    }

    private sealed class CompactCapturingStore(ICommerceStore inner) : CapturingStore(inner), IStoresCompactIdempotencyRecords;
}
