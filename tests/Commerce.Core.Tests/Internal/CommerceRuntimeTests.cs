using System.Collections.Concurrent;
using Commerce.Conformance;
using Commerce.Storage;
using Commerce.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace Commerce.Tests.Internal;

/// <summary>The optimistic-concurrency loop, driven by a store whose commits fail on demand.</summary>
public sealed class CommerceRuntimeTests
{
    private static (ServiceProvider Provider, ConflictingStore Store, ConcurrentQueue<int> Events) Build(int conflicts, int maxAttempts, int refusals = 0)
    {
        var store = new ConflictingStore(new FakeStore(), conflicts) { Refusals = refusals };
        var events = new ConcurrentQueue<int>();
        var services = new ServiceCollection();
        services.AddLogging(b => b.AddProvider(new EventIdProvider(events)).SetMinimumLevel(LogLevel.Trace));
        services.AddSingleton<ICommerceStore>(store);
        services.AddCommerce(o =>
        {
            o.MaxCommitAttempts = maxAttempts;
            o.RetryBaseDelay = TimeSpan.Zero;
            o.MaxRetryDelay = TimeSpan.Zero;
        });
        return (services.BuildServiceProvider(), store, events);
    }

    /// <summary>The services over <paramref name="store"/> with the default options, on <paramref name="clock"/>, logging every event id.</summary>
    private static (ServiceProvider Provider, ConcurrentQueue<int> Events) OnClock(ConflictingStore store, TimeProvider clock)
    {
        var events = new ConcurrentQueue<int>();
        var services = new ServiceCollection();
        services.AddLogging(b => b.AddProvider(new EventIdProvider(events)).SetMinimumLevel(LogLevel.Trace));
        services.AddSingleton(clock);
        services.AddSingleton<ICommerceStore>(store);
        services.AddCommerce();
        return (services.BuildServiceProvider(), events);
    }

    [Fact]
    public async Task A_use_case_that_conflicts_runs_again_from_fresh_reads_and_applies_once()
    {
        var (provider, store, events) = Build(conflicts: 3, maxAttempts: 64);
        using var _ = provider;
        var wallets = provider.GetRequiredService<IWalletService>();

        var charged = await wallets.ChargeAsync(new UserId(1), new Money(10));

        Assert.Equal(new Money(10), charged.Value);
        Assert.Equal(4, store.Commits);
        Assert.Equal(new Money(10), await wallets.GetBalanceAsync(new UserId(1)));
        Assert.Equal(3, events.Count(e => e == 901));
        Assert.DoesNotContain(902, events);
    }

    [Fact]
    public async Task A_use_case_that_keeps_conflicting_gives_up_with_ConcurrencyConflict_after_the_configured_attempts_and_changes_nothing()
    {
        var (provider, store, events) = Build(conflicts: int.MaxValue, maxAttempts: 5);
        using var _ = provider;

        var charged = await provider.GetRequiredService<IWalletService>().ChargeAsync(new UserId(1), new Money(10));

        Assert.Equal(CommerceErrorCode.ConcurrencyConflict, charged.Error?.Code);
        Assert.Equal(5, store.Commits);
        Assert.Equal(4, events.Count(e => e == 901));
        Assert.Single(events, e => e == 902);
        store.Conflicts = 0;
        Assert.Equal(Money.Zero, await provider.GetRequiredService<IWalletService>().GetBalanceAsync(new UserId(1)));
    }

    [Fact]
    public async Task A_use_case_refused_by_the_store_then_conflicting_reports_its_attempts_as_they_were()
    {
        var (provider, store, events) = Build(conflicts: int.MaxValue, maxAttempts: 5, refusals: 2);
        using var _ = provider;

        var charged = await provider.GetRequiredService<IWalletService>().ChargeAsync(new UserId(1), new Money(10));

        // Two attempts were refused and three conflicted: the error names the attempts and what the last one met.
        Assert.Equal(CommerceErrorCode.ConcurrencyConflict, charged.Error?.Code);
        Assert.Equal(3, store.Commits);
        Assert.Equal(2, events.Count(e => e == 903));
        Assert.Equal("Charge gave up after 5 attempts (CommerceOptions.MaxCommitAttempts), the last conflicting with concurrent operations; nothing was changed.", charged.Error!.Message);
    }

    [Fact]
    public async Task A_read_that_keeps_conflicting_throws_InvalidOperationException()
    {
        var (provider, _, _) = Build(conflicts: int.MaxValue, maxAttempts: 2);
        using var __ = provider;

        await Assert.ThrowsAsync<InvalidOperationException>(async () => await provider.GetRequiredService<IWalletService>().GetBalanceAsync(new UserId(1)));
    }

    [Theory]
    [InlineData(1, true)]
    [InlineData(2, true)]
    [InlineData(5, true)]
    [InlineData(6, true)]
    [InlineData(7, true)]
    [InlineData(30, true)]
    [InlineData(2, false)]
    [InlineData(3, false)]
    [InlineData(4, false)]
    [InlineData(30, false)]
    public void The_timed_back_off_starts_at_attempt_6_after_quick_attempts_and_3_after_slow_ones_and_never_exceeds_the_cap(int attempt, bool quick)
    {
        var runtime = new CommerceRuntime(new ConflictingStore(null!, 0), new CommerceOptions { RetryBaseDelay = TimeSpan.FromMilliseconds(2), MaxRetryDelay = TimeSpan.FromMilliseconds(10) }, TimeProvider.System, Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance);
        var first = quick ? 6 : 3;

        var delay = runtime.BackoffBefore(attempt, quick);

        Assert.Equal(first, CommerceRuntime.FirstDelayedAttempt(quick));
        Assert.InRange(delay, TimeSpan.Zero, attempt < first ? TimeSpan.Zero : TimeSpan.FromMilliseconds(Math.Min(10, 2 << (attempt - first))));
    }

    [Theory]
    [InlineData(8, false)]
    [InlineData(2, false)]
    [InlineData(1, true)]
    public void A_first_attempt_is_timed_only_if_its_duration_could_decide_what_precedes_the_second(int priorityAfterAttempts, bool timed)
    {
        // Its duration is read only after a conflict, to choose a spin or a delay before attempt 2 (a spin either
        // way: the back-off starts at attempt 3 or 6) and whether to take priority (not before the set attempt).
        var runtime = new CommerceRuntime(new ConflictingStore(null!, 0), new CommerceOptions(), TimeProvider.System, Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance);
        runtime.Contention.PriorityAfterAttempts = priorityAfterAttempts;

        Assert.Equal(timed, runtime.FirstAttemptTimed);
        Assert.True(CommerceRuntime.FirstDelayedAttempt(quick: true) > 2 && CommerceRuntime.FirstDelayedAttempt(quick: false) > 2);
    }

    [Fact]
    public async Task Retries_before_the_timed_back_off_stay_on_the_calling_thread()
    {
        // Four conflicts: attempts 2 to 5 follow spins only, so an in-memory use case completes synchronously.
        var (provider, store, events) = Build(conflicts: 4, maxAttempts: 64);
        using var _ = provider;

        var charge = provider.GetRequiredService<IWalletService>().ChargeAsync(new UserId(1), new Money(10));

        Assert.True(charge.IsCompletedSuccessfully);
        Assert.Equal(new Money(10), (await charge).Value);
        Assert.Equal(5, store.Commits);
        Assert.Equal(4, events.Count(e => e == 901));
    }

    [Fact]
    public async Task A_use_case_the_store_refuses_for_now_runs_again_and_applies_once()
    {
        var (provider, store, events) = Build(conflicts: 0, maxAttempts: 64, refusals: 3);
        using var _ = provider;
        var wallets = provider.GetRequiredService<IWalletService>();

        var charged = await wallets.ChargeAsync(new UserId(1), new Money(10));

        Assert.Equal(new Money(10), charged.Value);
        Assert.Equal(1, store.Commits);
        Assert.Equal(3, events.Count(e => e == 903));
        Assert.DoesNotContain(904, events);
        Assert.Equal(new Money(10), await wallets.GetBalanceAsync(new UserId(1)));
    }

    [Fact]
    public async Task A_use_case_the_store_keeps_refusing_gives_up_with_StoreUnavailable_after_the_configured_attempts_and_changes_nothing()
    {
        var (provider, store, events) = Build(conflicts: 0, maxAttempts: 5, refusals: int.MaxValue);
        using var _ = provider;
        var wallets = provider.GetRequiredService<IWalletService>();

        var charged = await wallets.ChargeAsync(new UserId(1), new Money(10));

        Assert.Equal(CommerceErrorCode.StoreUnavailable, charged.Error?.Code);
        Assert.Equal(5, store.Reads);
        Assert.Equal(0, store.Commits);
        Assert.Equal(4, events.Count(e => e == 903));
        Assert.Single(events, e => e == 904);
        store.Refusals = 0;
        Assert.Equal(Money.Zero, await wallets.GetBalanceAsync(new UserId(1)));
    }

    [Fact]
    public async Task A_read_the_store_keeps_refusing_throws_StoreUnavailableException_holding_the_refusal()
    {
        var (provider, _, _) = Build(conflicts: 0, maxAttempts: 3, refusals: int.MaxValue);
        using var __ = provider;

        var thrown = await Assert.ThrowsAsync<StoreUnavailableException>(async () => await provider.GetRequiredService<IWalletService>().GetBalanceAsync(new UserId(1)));

        Assert.Same(ConflictingStore.Refusal, thrown.InnerException);
    }

    [Fact]
    public async Task A_refusal_that_is_not_retryable_is_reported_after_one_attempt_and_changes_nothing()
    {
        var (provider, store, events) = Build(conflicts: 0, maxAttempts: 5, refusals: int.MaxValue);
        using var _ = provider;
        store.Thrown = ConflictingStore.FinalRefusal;
        var wallets = provider.GetRequiredService<IWalletService>();

        var charged = await wallets.ChargeAsync(new UserId(1), new Money(10));
        var read = await Assert.ThrowsAsync<StoreUnavailableException>(async () => await wallets.GetBalanceAsync(new UserId(1)));

        Assert.Equal(CommerceErrorCode.StoreUnavailable, charged.Error?.Code);
        Assert.Contains("did not retry", charged.Error!.Message, StringComparison.Ordinal);
        Assert.Same(ConflictingStore.FinalRefusal, read.InnerException);
        Assert.Equal(2, store.Reads);
        Assert.Equal(0, store.Commits);
        Assert.DoesNotContain(903, events);
        Assert.Equal(2, events.Count(e => e == 904));
        store.Refusals = 0;
        Assert.Equal(Money.Zero, await wallets.GetBalanceAsync(new UserId(1)));
    }

    [Fact]
    public async Task A_keyed_request_the_store_kept_refusing_is_not_remembered_so_its_retry_runs()
    {
        var (provider, store, _) = Build(conflicts: 0, maxAttempts: 2, refusals: int.MaxValue);
        using var _ = provider;
        var wallets = provider.GetRequiredService<IWalletService>();
        var key = new IdempotencyKey("charge-1");

        Assert.Equal(CommerceErrorCode.StoreUnavailable, (await wallets.ChargeAsync(new UserId(1), new Money(10), key)).Error?.Code);
        store.Refusals = 0;

        Assert.Equal(new Money(10), (await wallets.ChargeAsync(new UserId(1), new Money(10), key)).Value);
        Assert.Equal(new Money(10), (await wallets.ChargeAsync(new UserId(1), new Money(10), key)).Value);
        Assert.Equal(new Money(10), await wallets.GetBalanceAsync(new UserId(1)));
    }

    [Fact]
    public async Task Keyed_requests_on_a_store_whose_calls_complete_later_run_once_replay_refuse_a_reused_key_and_purge()
    {
        // Every read, commit and purge completes after a yield: each step of a keyed request goes on in its async continuation.
        var clock = new FakeTimeProvider(TestClock.Start);
        var store = new ConflictingStore(new FakeStore(), conflicts: 1) { Yields = true };
        var services = new ServiceCollection();
        services.AddSingleton<TimeProvider>(clock);
        services.AddSingleton<ICommerceStore>(store);
        services.AddCommerce(o => o.RetryBaseDelay = o.MaxRetryDelay = TimeSpan.Zero);
        using var provider = services.BuildServiceProvider();
        var wallets = provider.GetRequiredService<IWalletService>();
        var orders = provider.GetRequiredService<IOrderService>();
        var catalog = provider.GetRequiredService<ICatalogService>();
        var user = new UserId(1);
        Assert.True((await catalog.AddProductAsync(new ProductId(7), "Tea", new Money(30), 5)).IsSuccess);

        // The first commit conflicts: the charge runs again, and applies once.
        Assert.Equal(new Money(10), (await wallets.ChargeAsync(user, new Money(10), new IdempotencyKey("charge-1"))).Value);
        Assert.Equal(new Money(10), (await wallets.ChargeAsync(user, new Money(10), new IdempotencyKey("charge-1"))).Value);
        Assert.Equal(CommerceErrorCode.IdempotencyKeyReused, (await wallets.ChargeAsync(user, new Money(20), new IdempotencyKey("charge-1"))).Error?.Code);

        // A refusal is stored: once the balance suffices, the same request still answers with it.
        OrderLineRequest[] lines = [new(new ProductId(7), 1)];
        Assert.Equal(CommerceErrorCode.InsufficientBalance, (await orders.PlaceOrderAsync(user, lines, new IdempotencyKey("order-1"))).Error?.Code);
        Assert.Equal(new Money(40), (await wallets.ChargeAsync(user, new Money(30), new IdempotencyKey("charge-2"))).Value);
        Assert.Equal(CommerceErrorCode.InsufficientBalance, (await orders.PlaceOrderAsync(user, lines, new IdempotencyKey("order-1"))).Error?.Code);
        var placed = await orders.PlaceOrderAsync(user, lines, new IdempotencyKey("order-2"));
        Assert.Equal(placed.Value.Id, (await orders.PlaceOrderAsync(user, lines, new IdempotencyKey("order-2"))).Value.Id);
        Assert.Equal(new Money(10), await wallets.GetBalanceAsync(user));

        // A checkout reads the cart's products only once it has read the cart: its use case itself completes later.
        var carts = provider.GetRequiredService<ICartService>();
        Assert.True((await carts.AddItemAsync(user, new ProductId(7), 1)).IsSuccess);
        Assert.Equal(CommerceErrorCode.InsufficientBalance, (await carts.CheckoutAsync(user, new IdempotencyKey("checkout-1"))).Error?.Code);
        Assert.Equal(new Money(40), (await wallets.ChargeAsync(user, new Money(30), new IdempotencyKey("charge-4"))).Value);
        var checkedOut = await carts.CheckoutAsync(user, new IdempotencyKey("checkout-2"));
        Assert.Equal(checkedOut.Value.Id, (await carts.CheckoutAsync(user, new IdempotencyKey("checkout-2"))).Value.Id);
        Assert.Equal(new Money(10), await wallets.GetBalanceAsync(user));
        Assert.Equal(1, store.Purges); // the first keyed request's only

        // Past the retention, the next keyed request purges (after its own commit): the expired key applies anew.
        clock.Advance(new CommerceOptions().IdempotencyRetention + TimeSpan.FromMinutes(1));
        Assert.Equal(new Money(15), (await wallets.ChargeAsync(user, new Money(5), new IdempotencyKey("charge-3"))).Value);
        Assert.Equal(2, store.Purges);
        Assert.Equal(new Money(25), (await wallets.ChargeAsync(user, new Money(10), new IdempotencyKey("charge-1"))).Value);
        Assert.Equal(new Money(25), await wallets.GetBalanceAsync(user));
    }

    [Fact]
    public async Task Processes_that_each_live_less_than_a_quarter_of_the_retention_still_purge_what_expired_in_a_store_that_outlives_them()
    {
        // A database outlives the processes that use it (restarts, deployments, scaling): each process starts
        // without knowing when the store was last purged, and the records must stay bounded all the same.
        var retention = TimeSpan.FromHours(1);
        var clock = new FakeTimeProvider(TestClock.Start);
        var database = new FakeStore();
        for (var process = 0; process < 16; process++)
        {
            var services = new ServiceCollection();
            services.AddSingleton<TimeProvider>(clock);
            services.AddSingleton<ICommerceStore>(database);
            services.AddCommerce(o => o.IdempotencyRetention = retention);
            using var provider = services.BuildServiceProvider();
            var wallets = provider.GetRequiredService<IWalletService>();
            Assert.True((await wallets.ChargeAsync(new UserId(1), new Money(1), new IdempotencyKey($"charge-{process}"))).IsSuccess);
            clock.Advance(retention / 8);
        }

        // At most the records of the last retention and a quarter (ten processes' worth) are left.
        Assert.InRange(database.IdempotencyRecords, 1, 10);
    }

    [Fact]
    public async Task Expired_records_are_still_purged_after_the_clock_steps_back_past_the_last_purge()
    {
        // A clock set back (an NTP correction, a restored virtual machine) puts the last purge in its future: the
        // purges must go on from the step, not wait until the clock is back a quarter of the retention past it.
        var retention = TimeSpan.FromHours(1);
        var clock = new FakeTimeProvider(TestClock.Start);
        var database = new FakeStore();
        var services = new ServiceCollection();
        services.AddSingleton<TimeProvider>(clock);
        services.AddSingleton<ICommerceStore>(database);
        services.AddCommerce(o => o.IdempotencyRetention = retention);
        using var provider = services.BuildServiceProvider();
        var wallets = provider.GetRequiredService<IWalletService>();
        var user = new UserId(1);
        Assert.True((await wallets.ChargeAsync(user, new Money(1), new IdempotencyKey("before-the-step"))).IsSuccess);

        clock.AdjustTime(TestClock.Start - TimeSpan.FromDays(30));
        for (var i = 0; i < 32; i++)
        {
            Assert.True((await wallets.ChargeAsync(user, new Money(1), new IdempotencyKey($"charge-{i}"))).IsSuccess);
            clock.Advance(retention / 8);
        }

        // Four hours after the step: the record from before it (in the clock's future, so not expired) and at most
        // those of the last retention and a quarter are left, not every record made since the step.
        Assert.InRange(database.IdempotencyRecords, 2, 11);
    }

    [Fact]
    public async Task A_purge_after_the_clock_jumped_forward_keeps_keys_not_a_retention_old_so_a_retry_once_it_is_set_back_replays()
    {
        // The clock jumps two days ahead (a wrong time source, a host resumed), a keyed request purges, and the
        // clock is set right again: a retry of a request made a minute before the jump is within the retention by
        // that clock and by the time that really passed, so it must answer with the stored outcome.
        var clock = new SteppingClock(TestClock.Start);
        var database = new FakeStore();
        var services = new ServiceCollection();
        services.AddSingleton<TimeProvider>(clock);
        services.AddSingleton<ICommerceStore>(database);
        services.AddCommerce();
        using var provider = services.BuildServiceProvider();
        var wallets = provider.GetRequiredService<IWalletService>();
        var user = new UserId(1);
        Assert.Equal(new Money(100), (await wallets.ChargeAsync(user, new Money(100), new IdempotencyKey("charge-1"))).Value);

        clock.Advance(TimeSpan.FromMinutes(1));
        clock.SetWall(TestClock.Start + TimeSpan.FromDays(2));
        Assert.True((await wallets.ChargeAsync(new UserId(2), new Money(1), new IdempotencyKey("during-the-jump"))).IsSuccess);

        clock.Advance(TimeSpan.FromMinutes(1));
        clock.SetWall(TestClock.Start + TimeSpan.FromMinutes(2));
        Assert.Equal(new Money(100), (await wallets.ChargeAsync(user, new Money(100), new IdempotencyKey("charge-1"))).Value);
        Assert.Equal(new Money(100), await wallets.GetBalanceAsync(user));

        // Once a retention has really passed (by both clocks), the record goes at the next purge; the one stamped
        // during the jump stays until the clock passes its expiry.
        clock.Advance(new CommerceOptions().IdempotencyRetention + TimeSpan.FromMinutes(1));
        Assert.True((await wallets.ChargeAsync(new UserId(3), new Money(1), new IdempotencyKey("later"))).IsSuccess);
        Assert.Equal(2, database.IdempotencyRecords);
        Assert.Equal(new Money(200), (await wallets.ChargeAsync(user, new Money(100), new IdempotencyKey("charge-1"))).Value);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_purge_whose_cutoff_would_fall_before_the_calendar_starts_removes_nothing_and_logs_no_failure(bool jumped)
    {
        // The clock a day after the calendar's start with the longest retention, and then (jumped) at its end after a
        // jump ahead from there, which takes the cutoff back by the whole calendar: no record is older than the cutoff.
        var retention = TimeSpan.FromDays(366);
        var clock = new SteppingClock(DateTimeOffset.MinValue.AddDays(1));
        var database = new FakeStore();
        var events = new ConcurrentQueue<int>();
        var services = new ServiceCollection();
        services.AddLogging(b => b.AddProvider(new EventIdProvider(events)).SetMinimumLevel(LogLevel.Trace));
        services.AddSingleton<TimeProvider>(clock);
        services.AddSingleton<ICommerceStore>(database);
        services.AddCommerce(o => o.IdempotencyRetention = retention);
        using var provider = services.BuildServiceProvider();
        var wallets = provider.GetRequiredService<IWalletService>();
        Assert.True((await wallets.ChargeAsync(new UserId(1), new Money(1), new IdempotencyKey("first"))).IsSuccess);
        if (jumped)
        {
            clock.Advance(TimeSpan.FromMinutes(1));
            clock.SetWall(DateTimeOffset.MaxValue.AddDays(-1));
            Assert.True((await wallets.ChargeAsync(new UserId(2), new Money(1), new IdempotencyKey("after-the-jump"))).IsSuccess);
        }

        Assert.Equal(jumped ? 2 : 1, events.Count(id => id == 103)); // IdempotencyPurged: each keyed request purged
        Assert.DoesNotContain(104, events); // IdempotencyPurgeFailed
        Assert.Equal(jumped ? 2 : 1, database.IdempotencyRecords);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_keyed_request_cancelled_after_its_commit_returns_its_outcome_and_leaves_the_purge_it_claimed_to_the_next(bool yields)
    {
        var clock = new FakeTimeProvider(TestClock.Start);
        var store = new ConflictingStore(new FakeStore(), conflicts: 0) { Yields = yields };
        var (provider, events) = OnClock(store, clock);
        using var disposing = provider;
        var wallets = provider.GetRequiredService<IWalletService>();
        var user = new UserId(1);

        // A purge is due; the request's cancellation comes right after its commit, before the purge opens its session.
        clock.Advance((new CommerceOptions().IdempotencyRetention / 4) + TimeSpan.FromMinutes(1));
        using var cancel = new CancellationTokenSource();
        store.AfterCommit = cancel.Cancel;
        Assert.Equal(new Money(10), (await wallets.ChargeAsync(user, new Money(10), new IdempotencyKey("charge-1"), cancel.Token)).Value);
        Assert.Equal(0, store.Purges);
        Assert.Contains(105, events); // IdempotencyPurgeCancelled
        Assert.DoesNotContain(104, events);

        // The next keyed request runs the purge at once, not a quarter of the retention later.
        store.AfterCommit = null;
        Assert.Equal(new Money(15), (await wallets.ChargeAsync(user, new Money(5), new IdempotencyKey("charge-2"))).Value);
        Assert.Equal(1, store.Purges);
        Assert.Contains(103, events); // IdempotencyPurged
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_keyed_request_that_throws_while_a_purge_is_due_leaves_it_to_the_next_keyed_request_which_runs_it_first(bool yields)
    {
        var clock = new FakeTimeProvider(TestClock.Start);
        var store = new ConflictingStore(new FakeStore(), conflicts: 0) { Yields = yields };
        var (provider, events) = OnClock(store, clock);
        using var disposing = provider;
        var wallets = provider.GetRequiredService<IWalletService>();
        var user = new UserId(1);
        var purgesAtCommit = new List<int>();
        store.AfterCommit = () => purgesAtCommit.Add(store.Purges);

        // The process's first keyed request is due to purge, but throws (its caller cancelled it): it purges nothing.
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await wallets.ChargeAsync(user, new Money(10), new IdempotencyKey("charge-1"), cancelled.Token));
        Assert.Equal(0, store.Purges);

        // The next one throws too: the purge it runs first is cancelled with it, handed back, and left again.
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await wallets.ChargeAsync(user, new Money(10), new IdempotencyKey("charge-2"), cancelled.Token));
        Assert.Equal(0, store.Purges);
        Assert.Contains(105, events); // IdempotencyPurgeCancelled

        // The next one runs it, before its own commit; the one after finds none due.
        Assert.Equal(new Money(10), (await wallets.ChargeAsync(user, new Money(10), new IdempotencyKey("charge-3"))).Value);
        Assert.Equal(new Money(15), (await wallets.ChargeAsync(user, new Money(5), new IdempotencyKey("charge-4"))).Value);
        Assert.Equal(1, store.Purges);
        Assert.Equal([1, 1], purgesAtCommit);
        Assert.Contains(103, events); // IdempotencyPurged
        Assert.DoesNotContain(104, events);

        // Within a quarter of the retention no purge is due, and a request that throws leaves none.
        clock.Advance((new CommerceOptions().IdempotencyRetention / 4) - TimeSpan.FromMinutes(1));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await wallets.ChargeAsync(user, new Money(10), new IdempotencyKey("charge-5"), cancelled.Token));
        clock.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal(new Money(20), (await wallets.ChargeAsync(user, new Money(5), new IdempotencyKey("charge-6"))).Value);
        Assert.Equal([1, 1, 1], purgesAtCommit); // due now, it ran after the commit, as a keyed request that returns runs it
        Assert.Equal(2, store.Purges);
    }

    [Fact]
    public async Task A_failed_purge_is_logged_leaves_the_request_s_outcome_and_is_left_to_the_next_purge_due()
    {
        var clock = new FakeTimeProvider(TestClock.Start);
        var store = new ConflictingStore(new FakeStore(), conflicts: 0) { PurgeFailure = new IOException("The connection broke during the purge.") };
        var (provider, events) = OnClock(store, clock);
        using var disposing = provider;
        var wallets = provider.GetRequiredService<IWalletService>();
        var user = new UserId(1);
        var quarter = new CommerceOptions().IdempotencyRetention / 4;

        // The first keyed request of the process purges; the purge throws after the request's commit.
        Assert.Equal(new Money(10), (await wallets.ChargeAsync(user, new Money(10), new IdempotencyKey("charge-1"))).Value);
        Assert.Equal(1, store.Purges);
        Assert.Contains(104, events); // IdempotencyPurgeFailed
        Assert.DoesNotContain(103, events);

        // Left to the next purge due: none before a quarter of the retention has passed, one then.
        store.PurgeFailure = null;
        clock.Advance(quarter - TimeSpan.FromMinutes(1));
        Assert.Equal(new Money(15), (await wallets.ChargeAsync(user, new Money(5), new IdempotencyKey("charge-2"))).Value);
        Assert.Equal(1, store.Purges);
        clock.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal(new Money(20), (await wallets.ChargeAsync(user, new Money(5), new IdempotencyKey("charge-3"))).Value);
        Assert.Equal(2, store.Purges);
        Assert.Contains(103, events); // IdempotencyPurged

        // The request whose purge failed was applied once, and its key still answers with its outcome.
        Assert.Equal(new Money(10), (await wallets.ChargeAsync(user, new Money(10), new IdempotencyKey("charge-1"))).Value);
        Assert.Equal(new Money(20), await wallets.GetBalanceAsync(user));
        Assert.Single(events, e => e == 104);
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    public async Task A_session_that_fails_to_close_after_a_commit_leaves_the_outcome_applied_once(bool keyed, bool otherFailure)
    {
        var (provider, store, events) = Build(conflicts: 0, maxAttempts: 8);
        using var _ = provider;
        var wallets = provider.GetRequiredService<IWalletService>();
        var user = new UserId(1);
        store.CloseRefusalsAfterWrite = 1;
        if (otherFailure)
        {
            store.CloseFailure = new IOException("The connection broke while it went back to the pool.");
        }

        var charged = keyed
            ? await wallets.ChargeAsync(user, new Money(10), new IdempotencyKey("charge-1"))
            : await wallets.ChargeAsync(user, new Money(10));

        Assert.Equal(new Money(10), charged.Value);
        Assert.Equal(new Money(10), await wallets.GetBalanceAsync(user));
        Assert.Equal(0, store.CloseRefusalsAfterWrite);
        Assert.Contains(905, events); // SessionCloseFailedAfterCommit
        Assert.DoesNotContain(903, events);
    }

    [Fact]
    public async Task A_keyed_request_cancelled_while_it_retries_after_conflicts_logs_no_failure_and_its_retry_runs_once()
    {
        var (provider, store, events) = Build(conflicts: int.MaxValue, maxAttempts: 64);
        using var _ = provider;
        var wallets = provider.GetRequiredService<IWalletService>();
        using var cancel = new CancellationTokenSource();
        store.AfterConflict = attempt =>
        {
            if (attempt == 3)
            {
                cancel.Cancel();
            }
        };

        var thrown = await Record.ExceptionAsync(async () => await wallets.ChargeAsync(new UserId(1), new Money(10), new IdempotencyKey("charge-1"), cancel.Token));

        Assert.Equal(cancel.Token, Assert.IsAssignableFrom<OperationCanceledException>(thrown).CancellationToken);
        Assert.Equal(3, store.Commits);
        // Only the conflicts, at Debug: not the give-ups (902, 904), nor a failed or cancelled purge (104, 105: the
        // request never reached its purge).
        Assert.Equal([901, 901, 901], events.Where(e => e != 103));
        store.Conflicts = 0;
        store.AfterConflict = null;
        Assert.Equal(new Money(10), (await wallets.ChargeAsync(new UserId(1), new Money(10), new IdempotencyKey("charge-1"))).Value);
        Assert.Equal(new Money(10), (await wallets.ChargeAsync(new UserId(1), new Money(10), new IdempotencyKey("charge-1"))).Value);
        Assert.Equal(new Money(10), await wallets.GetBalanceAsync(new UserId(1)));
    }

    /// <summary>
    /// Wraps a store; its first <see cref="Conflicts"/> commits report a conflict and apply nothing, and
    /// its first <see cref="Refusals"/> reads throw <see cref="Refusal"/>.
    /// </summary>
    private sealed class ConflictingStore(ICommerceStore inner, int conflicts) : ICommerceStore
    {
        public static readonly StoreUnavailableException Refusal = new("Refused for the test.");

        public static readonly StoreUnavailableException FinalRefusal = new("Refused for the test, after waiting.", new TimeoutException(), retryable: false);

        /// <summary>What the refused reads throw (<see cref="Refusal"/> unless set).</summary>
        public StoreUnavailableException Thrown { get; set; } = Refusal;

        private int _commits;
        private int _reads;

        public int Conflicts { get; set; } = conflicts;

        public int Refusals { get; set; }

        /// <summary>Whether reads, commits and purges complete later (after a yield), as a database's do.</summary>
        public bool Yields { get; init; }

        /// <summary>How many purges of idempotency records ran.</summary>
        public int Purges => _purges;

        private int _purges;

        public int Commits => _commits;

        public int Reads => _reads;

        /// <summary>How many sessions that committed writes throw <see cref="CloseFailure"/> when they are closed.</summary>
        public int CloseRefusalsAfterWrite { get; set; }

        /// <summary>What closing a session that committed writes throws (<see cref="Refusal"/> unless set).</summary>
        public Exception CloseFailure { get; set; } = Refusal;

        /// <summary>What each purge of idempotency records throws, once counted in <see cref="Purges"/> (nothing unless set).</summary>
        public Exception? PurgeFailure { get; set; }

        /// <summary>Called after each commit that applied (a test seam: for instance, a cancellation that comes just then).</summary>
        public Action? AfterCommit { get; set; }

        /// <summary>Called after each commit that conflicted, with the number of commits so far.</summary>
        public Action<int>? AfterConflict { get; set; }

        public async ValueTask<IStoreSession> OpenSessionAsync(CancellationToken cancellationToken = default)
        {
            cancellationToken.ThrowIfCancellationRequested();
            return new Session(this, await inner.OpenSessionAsync(cancellationToken));
        }

        private async ValueTask YieldAsync()
        {
            if (Yields)
            {
                await Task.Yield();
            }
        }

        private sealed class Session(ConflictingStore owner, IStoreSession inner) : DelegatingStoreSession(inner)
        {
            public override async ValueTask ReadAsync(ReadBatch batch, CancellationToken cancellationToken = default)
            {
                await owner.YieldAsync();
                if (Interlocked.Increment(ref owner._reads) <= owner.Refusals)
                {
                    throw owner.Thrown;
                }

                await Inner.ReadAsync(batch, cancellationToken);
            }

            public override async ValueTask<bool> CommitAsync(ChangeSet changes, CancellationToken cancellationToken = default)
            {
                await owner.YieldAsync();
                var commits = Interlocked.Increment(ref owner._commits);
                var applied = commits > owner.Conflicts && await Inner.CommitAsync(changes, cancellationToken);
                if (applied)
                {
                    _wrote |= changes.HasWrites;
                    owner.AfterCommit?.Invoke();
                }
                else
                {
                    owner.AfterConflict?.Invoke(commits);
                }

                return applied;
            }

            private bool _wrote;

            public override async ValueTask DisposeAsync()
            {
                await base.DisposeAsync();
                if (_wrote && owner.CloseRefusalsAfterWrite > 0)
                {
                    owner.CloseRefusalsAfterWrite--;
                    throw owner.CloseFailure;
                }
            }

            public override async ValueTask<int> PurgeIdempotencyAsync(DateTimeOffset createdBefore, CancellationToken cancellationToken = default)
            {
                await owner.YieldAsync();
                Interlocked.Increment(ref owner._purges);
                if (owner.PurgeFailure is { } failure)
                {
                    throw failure;
                }

                return await Inner.PurgeIdempotencyAsync(createdBefore, cancellationToken);
            }
        }
    }
}
