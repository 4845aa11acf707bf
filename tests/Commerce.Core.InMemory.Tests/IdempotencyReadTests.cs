using Commerce.Conformance;
using Commerce.InMemory.LockFree;
using Commerce.InMemory.Tests.Support;
using Commerce.Storage;

namespace Commerce.InMemory.Tests;

/// <summary>
/// A read of an idempotency key creates the key's cell if it has none, so that the commit recording the
/// outcome writes that cell without looking the key up again; a cell no commit writes is retired by purges.
/// </summary>
public sealed class IdempotencyReadTests
{
    private static readonly UserId Alice = new(1);

    [Fact]
    public async Task A_read_of_a_fresh_key_creates_its_cell_absent_and_the_keyed_request_records_its_outcome_there()
    {
        using var shop = InMemoryShop.Create();
        await shop.AddProductAsync(1, price: 10, stock: 5);
        await shop.ChargeAsync(1, 100);
        var store = shop.InMemoryStore();
        var key = CellKey.From(StoreKey.ForIdempotency(Alice, IdempotentOperation.PlaceOrder, "order-1", store));

        await using (var unitOfWork = await UnitOfWork.BeginAsync(store, TimeSpan.FromMinutes(1), pooled: false, default))
        {
            Assert.Null(await unitOfWork.Idempotency.FindAsync(Alice, IdempotentOperation.PlaceOrder, "order-1"));
        }

        var cell = Assert.IsType<Cell>(store.Idempotency.Find(key));
        Assert.Same(Absent.Value, MultiWordCas.Read(cell));

        var order = (await shop.KeyedOrderAsync(1, new IdempotencyKey("order-1"), (1, 2))).Value;

        Assert.Same(cell, store.Idempotency.Find(key));
        Assert.Equal(order.Id, Assert.IsType<CompactIdempotencyRecord>(MultiWordCas.Read(cell)).ToRecord(Alice).OrderId);
        Assert.Equal(1, store.Idempotency.Count);
    }

    [Fact]
    public async Task A_cell_a_read_created_and_no_commit_wrote_is_retired_once_its_generation_is_sealed()
    {
        using var shop = InMemoryShop.Create(o => o.IdempotencyRetention = TimeSpan.FromDays(30));
        var store = shop.InMemoryStore();
        await shop.Wallets.ChargeAsync(Alice, new Money(5), new IdempotencyKey("expiring"));
        await using (var unitOfWork = await UnitOfWork.BeginAsync(store, TimeSpan.FromMinutes(1), pooled: false, default))
        {
            Assert.Null(await unitOfWork.Idempotency.FindAsync(Alice, IdempotentOperation.Charge, "never-committed"));
        }

        var unused = CellKey.From(StoreKey.ForIdempotency(Alice, IdempotentOperation.Charge, "never-committed", store));
        Assert.NotNull(store.Idempotency.Find(unused));

        // The expired record seals the generation; that purge retires both it and the cell nothing wrote.
        shop.Time.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal(1, await new InMemorySession(store).PurgeIdempotencyAsync(shop.Time.GetUtcNow()));

        Assert.Null(store.Idempotency.Find(unused));
        Assert.Equal(new Money(10), (await shop.Wallets.ChargeAsync(Alice, new Money(5), new IdempotencyKey("never-committed"))).Value);
    }

    [Fact]
    public async Task A_key_reused_each_time_it_expires_moves_out_of_its_sealed_generation_which_is_then_dropped()
    {
        // Retention 60 minutes, so a purge is due every 15: the times below place each reuse of "renewed" after its
        // record expired and before the next purge, where a record replaced in place would keep its old generation.
        // One attempt per request: moving the key to the newest generation costs no attempt of its own.
        using var shop = InMemoryShop.Create(o =>
        {
            o.IdempotencyRetention = TimeSpan.FromHours(1);
            o.MaxCommitAttempts = 1;
        });
        var store = shop.InMemoryStore();
        var carol = new UserId(3);
        await shop.Wallets.ChargeAsync(Alice, new Money(1), new IdempotencyKey("renewed"));
        for (var i = 0; i < 100; i++)
        {
            await shop.Wallets.ChargeAsync(new UserId(2), new Money(1), new IdempotencyKey($"k{i}"));
        }

        await At(50, () => shop.Wallets.ChargeAsync(carol, new Money(1), new IdempotencyKey("m1"))); // purge: nothing expired
        await At(61, () => shop.Wallets.ChargeAsync(Alice, new Money(1), new IdempotencyKey("renewed"))); // expired: charged again
        await At(66, () => shop.Wallets.ChargeAsync(carol, new Money(1), new IdempotencyKey("t1"))); // purge: seals the first generation
        await At(111, () => shop.Wallets.ChargeAsync(carol, new Money(1), new IdempotencyKey("m2"))); // purge
        await At(122, () => shop.Wallets.ChargeAsync(Alice, new Money(1), new IdempotencyKey("renewed"))); // expired again
        await At(127, () => shop.Wallets.ChargeAsync(carol, new Money(1), new IdempotencyKey("t2"))); // purge

        // Everything else of the first generation expired and was retired: with "renewed" gone from it, it is dropped.
        Assert.Equal(1, store.Idempotency.GenerationCount);
        Assert.Equal(new Money(3), await shop.Wallets.GetBalanceAsync(Alice));
        Assert.Equal(new Money(3), (await shop.Wallets.ChargeAsync(Alice, new Money(1), new IdempotencyKey("renewed"))).Value);
        Assert.Equal(new Money(3), await shop.Wallets.GetBalanceAsync(Alice));

        async Task At(int minutes, Func<ValueTask<Result<Money>>> charge)
        {
            shop.Time.Advance(TestClock.Start.AddMinutes(minutes) - shop.Time.GetUtcNow());
            Assert.True((await charge()).IsSuccess);
        }
    }

    [Fact]
    public async Task A_shop_taking_keyed_requests_for_many_retention_periods_keeps_two_or_three_generations_and_about_two_periods_of_keys()
    {
        // Retention 1 hour; every 5 minutes for two days: a keyed charge, a keyed order, a keyed order refused for a
        // product that does not exist, and a key reused each time it expires. What the store keeps must follow the
        // keys of the last periods, not every key ever used.
        using var shop = InMemoryShop.Create(o => o.IdempotencyRetention = TimeSpan.FromHours(1));
        var store = shop.InMemoryStore();
        await shop.AddProductAsync(1, price: 1, stock: 1_000_000);
        await shop.ChargeAsync(1, 1_000_000);
        const int KeysPerStep = 4;
        const int StepsPerRetention = 12;
        for (var step = 0; step < 2 * 24 * StepsPerRetention; step++)
        {
            shop.Time.Advance(TimeSpan.FromMinutes(5));
            Assert.True((await shop.Wallets.ChargeAsync(new UserId(2), new Money(1), new IdempotencyKey($"charge-{step}"))).IsSuccess);
            Assert.True((await shop.Orders.PlaceOrderAsync(new UserId(1), [new OrderLineRequest(new ProductId(1), 1)], new IdempotencyKey($"order-{step}"))).IsSuccess);
            Assert.Equal(
                CommerceErrorCode.ProductNotFound,
                (await shop.Orders.PlaceOrderAsync(new UserId(1), [new OrderLineRequest(new ProductId(99), 1)], new IdempotencyKey($"missing-{step}"))).Error!.Code);
            Assert.True((await shop.Wallets.ChargeAsync(new UserId(3), new Money(1), new IdempotencyKey("reused"))).IsSuccess);

            Assert.InRange(store.Idempotency.GenerationCount, 1, 3);
            Assert.InRange(store.Idempotency.Count, 0, 3 * KeysPerStep * StepsPerRetention);
        }

        // Nothing else was kept for the refused requests: the missing product has no cell.
        Assert.Equal(1, store.Products.Count);
    }

    [Fact]
    public async Task Keyed_requests_cancelled_before_their_commit_leave_cells_that_the_purge_after_the_next_records_expiry_retires()
    {
        // Retention 1 hour; every 5 minutes for a day: a keyed charge that commits, and 10 keyed charges under
        // fresh keys whose callers cancel them as they commit. Each failed request leaves its key's cell, absent,
        // which only a purge retires: the cells must follow the last periods, not every failed request.
        var (shop, cancelAtCommit) = CancellingShop(TimeSpan.FromHours(1));
        using var _ = shop;
        var store = shop.InMemoryStore();
        const int FailedPerStep = 10;
        const int StepsPerRetention = 12;
        for (var step = 0; step < 24 * StepsPerRetention; step++)
        {
            shop.Time.Advance(TimeSpan.FromMinutes(5));
            Assert.True((await shop.Wallets.ChargeAsync(Alice, new Money(1), new IdempotencyKey($"charge-{step}"))).IsSuccess);
            for (var i = 0; i < FailedPerStep; i++)
            {
                await cancelAtCommit(new IdempotencyKey($"cancelled-{step}-{i}"));
            }

            Assert.InRange(store.Idempotency.GenerationCount, 1, 3);
            Assert.InRange(store.Idempotency.Count, 0, 3 * (1 + FailedPerStep) * StepsPerRetention);
        }

        Assert.Equal(new Money(24 * StepsPerRetention), await shop.Wallets.GetBalanceAsync(Alice));
    }

    [Fact]
    public async Task Keyed_requests_that_all_fail_before_their_commit_leave_no_cell_behind_the_purges()
    {
        // Every keyed request fails (its caller cancels it as it commits), so no record is ever stored; the purges
        // (here the store's, as the library runs them) must still free the cells the failed requests' reads created.
        var (shop, cancelAtCommit) = CancellingShop(TimeSpan.FromHours(1));
        using var _ = shop;
        var store = shop.InMemoryStore();
        var session = new InMemorySession(store);
        for (var i = 0; i < 1_000; i++)
        {
            await cancelAtCommit(new IdempotencyKey($"cancelled-{i}"));
        }

        // The purge due at the process's first keyed request was left by it (it threw) to the second, which ran
        // it first and so retired the first one's cell; the clock stood still since, so no other purge was due.
        Assert.Equal(999, store.Idempotency.Count);
        for (var i = 0; i < 8; i++)
        {
            shop.Time.Advance(TimeSpan.FromMinutes(15));
            Assert.Equal(0, await session.PurgeIdempotencyAsync(shop.Time.GetUtcNow() - TimeSpan.FromHours(1)));
        }

        Assert.Equal(0, store.Idempotency.Count);
        Assert.Equal(1, store.Idempotency.GenerationCount);

        // A failed key runs once when it is sent again.
        Assert.Equal(new Money(1), (await shop.Wallets.ChargeAsync(Alice, new Money(1), new IdempotencyKey("cancelled-7"))).Value);
        Assert.Equal(new Money(1), (await shop.Wallets.ChargeAsync(Alice, new Money(1), new IdempotencyKey("cancelled-7"))).Value);
        Assert.Equal(new Money(1), await shop.Wallets.GetBalanceAsync(Alice));
    }

    [Fact]
    public async Task Keyed_requests_that_all_throw_still_run_the_purges_that_free_their_cells()
    {
        // Retention 1 hour; every 5 minutes for a day: 10 keyed charges under fresh keys whose callers cancel them
        // as they commit, and nothing else. No keyed request returns, so the purges the library runs must come from
        // requests that throw: the cells their reads created must follow the last quarter of the retention, not
        // every failed request.
        var (shop, cancelAtCommit) = CancellingShop(TimeSpan.FromHours(1));
        using var _ = shop;
        var store = shop.InMemoryStore();
        const int FailedPerStep = 10;
        const int StepsPerRetention = 12;
        for (var step = 0; step < 24 * StepsPerRetention; step++)
        {
            shop.Time.Advance(TimeSpan.FromMinutes(5));
            for (var i = 0; i < FailedPerStep; i++)
            {
                await cancelAtCommit(new IdempotencyKey($"cancelled-{step}-{i}"));
            }

            // A purge is due every quarter of the retention; the cells of the steps since the last one are kept.
            Assert.InRange(store.Idempotency.Count, 0, StepsPerRetention / 4 * FailedPerStep);
            Assert.InRange(store.Idempotency.GenerationCount, 1, 2);
        }

        Assert.Equal(Money.Zero, await shop.Wallets.GetBalanceAsync(Alice));
    }

    [Fact]
    public async Task Once_keyed_requests_stop_their_records_stay_no_more_than_they_were_until_the_next_keyed_request_purges_them()
    {
        // Keyed requests run the purges, and nothing else does: requests without a key never look, so a burst of
        // keyed requests followed by none keeps its records (no more than the burst made) until the next keyed one.
        using var shop = InMemoryShop.Create(o => o.IdempotencyRetention = TimeSpan.FromHours(1));
        var store = shop.InMemoryStore();
        await shop.AddProductAsync(1, price: 1, stock: 1_000);
        await shop.ChargeAsync(1, 1_000);
        const int Burst = 100;
        for (var i = 0; i < Burst; i++)
        {
            Assert.True((await shop.Wallets.ChargeAsync(new UserId(2), new Money(1), new IdempotencyKey($"burst-{i}"))).IsSuccess);
        }

        Assert.Equal(Burst, store.Idempotency.Count);
        for (var hour = 0; hour < 24; hour++)
        {
            shop.Time.Advance(TimeSpan.FromHours(1));
            Assert.True((await shop.OrderAsync(1, (1, 1))).IsSuccess);
            Assert.True((await shop.Wallets.ChargeAsync(new UserId(3), new Money(1))).IsSuccess);
            Assert.Equal(Burst, store.Idempotency.Count);
        }

        // The next keyed request purges after its commit: every record of the burst goes, its own stays.
        Assert.True((await shop.Wallets.ChargeAsync(new UserId(2), new Money(1), new IdempotencyKey("next"))).IsSuccess);
        for (var i = 0; i < Burst; i++)
        {
            Assert.Null(store.Idempotency.Find(CellKey.From(StoreKey.ForIdempotency(new UserId(2), IdempotentOperation.Charge, $"burst-{i}", store))));
        }

        Assert.NotNull(store.Idempotency.Find(CellKey.From(StoreKey.ForIdempotency(new UserId(2), IdempotentOperation.Charge, "next", store))));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    public async Task Threads_sending_the_same_fresh_keys_while_purges_seal_generations_of_absent_cells_apply_each_request_once(int round)
    {
        _ = round;
        // What is tested is that each request applies once, not how soon a request gives up: the purges run without a
        // pause, and on a loaded machine a request may lose more commits to them than the default 64 attempts allow
        // (seen once: ConcurrencyConflict after 64 attempts).
        using var shop = InMemoryShop.Create(o => o.MaxCommitAttempts = 100_000);
        var store = shop.InMemoryStore();
        var session = new InMemorySession(store);
        const int Keys = 200;
        const int Threads = 3;
        var results = new Money[Threads, Keys];
        var failures = new Exception?[Threads];
        var done = 0;
        using var start = new Barrier(Threads + 1);
        var senders = Enumerable.Range(0, Threads).Select(t => new Thread(() =>
        {
            try
            {
                start.SignalAndWait();
                for (var k = 0; k < Keys; k++)
                {
                    // Each key's first requests race each other and the purges, which seal the newest generation
                    // while it holds only the absent cells of requests in flight (until a record lands in it).
                    results[t, k] = Sync.Run(shop.Wallets.ChargeAsync(new UserId(100 + k), new Money(1), new IdempotencyKey($"k{k}"))).Value;
                }
            }
            catch (Exception e)
            {
                failures[t] = e; // reported by the test, not by the test host crashing
            }
            finally
            {
                Interlocked.Increment(ref done);
            }
        }) { IsBackground = true }).ToList();
        senders.ForEach(thread => thread.Start());
        start.SignalAndWait();
        var purges = 0;
        while (Volatile.Read(ref done) < Threads)
        {
            await session.PurgeIdempotencyAsync(shop.Time.GetUtcNow() - TimeSpan.FromDays(1));
            purges++;
        }

        senders.ForEach(thread => thread.Join());
        Assert.All(failures, Assert.Null);
        Assert.True(purges > 0);
        for (var k = 0; k < Keys; k++)
        {
            Assert.Equal(new Money(1), await shop.Wallets.GetBalanceAsync(new UserId(100 + k)));
            for (var t = 0; t < Threads; t++)
            {
                Assert.Equal(new Money(1), results[t, k]);
            }
        }
    }

    /// <summary>
    /// A shop on the in-memory store, and a keyed charge of 1 for Alice whose caller cancels it as its commit
    /// reaches the store (after its read created the key's cell): it throws, and stores nothing.
    /// </summary>
    private static (Shop Shop, Func<IdempotencyKey, Task> CancelAtCommit) CancellingShop(TimeSpan retention)
    {
        BeforeCommitStore? wrapper = null;
        var shop = InMemoryShop.Create(o => o.IdempotencyRetention = retention, store => wrapper = new BeforeCommitStore(store));
        _ = shop.Wallets; // builds the runtime, and so the wrapper
        return (shop, async key =>
        {
            using var cancel = new CancellationTokenSource();
            wrapper!.BeforeNextCommit = () =>
            {
                cancel.Cancel();
                return Task.CompletedTask;
            };
            var thrown = await Record.ExceptionAsync(async () => await shop.Wallets.ChargeAsync(Alice, new Money(1), key, cancel.Token));
            Assert.Equal(cancel.Token, Assert.IsAssignableFrom<OperationCanceledException>(thrown).CancellationToken);
        });
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public async Task Threads_reusing_an_expired_key_of_a_sealed_generation_at_once_apply_the_request_once(int round)
    {
        _ = round;
        using var shop = InMemoryShop.Create(o => o.IdempotencyRetention = TimeSpan.FromHours(1));
        var store = shop.InMemoryStore();
        await shop.Wallets.ChargeAsync(new UserId(2), new Money(1), new IdempotencyKey("filler"));
        shop.Time.Advance(TimeSpan.FromMinutes(30));
        await shop.Wallets.ChargeAsync(Alice, new Money(1), new IdempotencyKey("k"));

        // The filler's expiry seals the generation, which keeps "k" (still live); then "k" expires too.
        shop.Time.Advance(TimeSpan.FromMinutes(31));
        Assert.Equal(1, await new InMemorySession(store).PurgeIdempotencyAsync(shop.Time.GetUtcNow() - TimeSpan.FromHours(1)));
        Assert.Equal(2, store.Idempotency.GenerationCount);
        shop.Time.Advance(TimeSpan.FromMinutes(30));

        const int Threads = 6;
        var results = new Result<Money>[Threads];
        using var start = new Barrier(Threads);
        var threads = Enumerable.Range(0, Threads).Select(t => new Thread(() =>
        {
            start.SignalAndWait();
            results[t] = shop.Wallets.ChargeAsync(Alice, new Money(1), new IdempotencyKey("k")).AsTask().GetAwaiter().GetResult();
        }) { IsBackground = true }).ToList();
        threads.ForEach(thread => thread.Start());
        threads.ForEach(thread => thread.Join());

        Assert.All(results, result => Assert.Equal(new Money(2), result.Value));
        Assert.Equal(new Money(2), await shop.Wallets.GetBalanceAsync(Alice));
        Assert.Equal(2, (await shop.Wallets.GetLedgerAsync(Alice)).Count);
    }
}
