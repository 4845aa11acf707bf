using Commerce.Conformance;
using Commerce.Conformance.Linearizability;
using Commerce.InMemory.Tests.Support;

namespace Commerce.InMemory.Tests.Linearizability;

public sealed class LinearizabilityTests
{
    private const int Histories = 300;
    private const int ForcedHistories = 40;

    /// <summary>A shop on the in-memory store in the workload's initial state.</summary>
    private static Shop NewShop(Func<InMemoryCommerceStore, Commerce.Storage.ICommerceStore>? wrap = null) =>
        Workload.NewShop(limits => InMemoryShop.Create(limits, wrap));

    /// <summary>
    /// Runs a history on real threads, widening the windows in which operations overlap: a short busy pause
    /// after each descriptor install (never a sleep; it only changes the interleavings that occur).
    /// </summary>
    private static void Run(Shop shop, Operation[][] threads, Func<int, string>? name = null)
    {
        shop.InMemoryStore().AfterInstall = static (_, _) => Thread.SpinWait(Random.Shared.Next(20_000));
        Workload.Run(shop, threads, name);
    }

    private static Operation Op(int thread, OpKind kind, int wallet, int amount, long invoked, long returned, string result, int second = 0) =>
        new(thread, kind, wallet, wallet, amount, second) { Invoked = invoked, Returned = returned, Result = result };

    [Fact]
    public void Checker_accepts_overlapping_operations_in_either_order()
    {
        // Two overlapping charges; the read after both sees both.
        IReadOnlyList<Operation>[] threads =
        [
            [Op(0, OpKind.Charge, 0, 5, 1, 4, "ok 40"), Op(0, OpKind.GetBalance, 0, 0, 5, 6, "40")],
            [Op(1, OpKind.Charge, 0, 5, 2, 3, "ok 35")],
        ];
        var order = LinearizabilityChecker.FindLinearization(threads, Workload.Initial);
        Assert.NotNull(order);
        Assert.Equal(["ok 35", "ok 40", "40"], order.Select(o => o.Result));
    }

    [Fact]
    public void Checker_rejects_a_lost_update()
    {
        IReadOnlyList<Operation>[] threads =
        [
            [Op(0, OpKind.Charge, 0, 5, 1, 4, "ok 35")],
            [Op(1, OpKind.Charge, 0, 7, 2, 3, "ok 37")],
        ];
        Assert.False(LinearizabilityChecker.IsLinearizable(threads, Workload.Initial));
    }

    [Fact]
    public void Checker_rejects_a_read_that_goes_back_in_real_time()
    {
        // The charge returned before the read was invoked, yet the read misses it.
        IReadOnlyList<Operation>[] threads =
        [
            [Op(0, OpKind.Charge, 0, 5, 1, 2, "ok 35")],
            [Op(1, OpKind.GetBalance, 0, 0, 3, 4, "30")],
        ];
        Assert.False(LinearizabilityChecker.IsLinearizable(threads, Workload.Initial));
    }

    [Fact]
    public void Checker_rejects_an_oversold_product()
    {
        // Stock 3 of product 0; two overlapping orders of 2 cannot both succeed.
        IReadOnlyList<Operation>[] threads =
        [
            [Op(0, OpKind.PlaceOrder, 0, 2, 1, 4, "ok total=20")],
            [Op(1, OpKind.PlaceOrder, 1, 2, 2, 3, "ok total=20")],
        ];
        Assert.False(LinearizabilityChecker.IsLinearizable(threads, Workload.Initial));
    }

    private static Operation Keyed(int thread, int wallet, int amount, int key, long invoked, long returned, string result) =>
        new(thread, OpKind.KeyedCharge, wallet, wallet, amount, 0, Key: key) { Invoked = invoked, Returned = returned, Result = result };

    private static Operation Cancel(int thread, int order, long invoked, long returned, string result) =>
        new(thread, OpKind.CancelOrder, 0, 0, 0, 0, Order: order) { Invoked = invoked, Returned = returned, Result = result };

    [Fact]
    public void Checker_accepts_a_keyed_charge_and_its_overlapping_repeat_that_replays_the_answer()
    {
        IReadOnlyList<Operation>[] threads =
        [
            [Keyed(0, 0, 5, 0, 1, 4, "ok 35"), Op(0, OpKind.GetBalance, 0, 0, 5, 6, "35")],
            [Keyed(1, 0, 5, 0, 2, 3, "ok 35"), Keyed(1, 0, 7, 0, 7, 8, "error IdempotencyKeyReused"), Keyed(1, 0, 7, 1, 9, 10, "ok 42")],
        ];
        Assert.True(LinearizabilityChecker.IsLinearizable(threads, Workload.Initial));
    }

    [Fact]
    public void Checker_rejects_a_keyed_charge_applied_twice()
    {
        IReadOnlyList<Operation>[] threads =
        [
            [Keyed(0, 0, 5, 0, 1, 4, "ok 35")],
            [Keyed(1, 0, 5, 0, 2, 3, "ok 40")],
        ];
        Assert.False(LinearizabilityChecker.IsLinearizable(threads, Workload.Initial));
    }

    [Fact]
    public void Checker_rejects_a_stored_refusal_that_is_not_replayed()
    {
        // The first call under k1 was refused (30 + 40 + 40 > 100 after the plain charge); its repeat must be too.
        IReadOnlyList<Operation>[] threads =
        [
            [Op(0, OpKind.Charge, 0, 40, 1, 2, "ok 70"), Keyed(0, 0, 40, 1, 3, 4, "error BalanceLimitExceeded"), Op(0, OpKind.PlaceOrder, 0, 3, 5, 6, "ok total=30")],
            [Keyed(1, 0, 40, 1, 7, 8, "ok 80")],
        ];
        Assert.False(LinearizabilityChecker.IsLinearizable(threads, Workload.Initial));
    }

    [Fact]
    public void Checker_rejects_two_cancels_of_one_order_that_both_succeed()
    {
        IReadOnlyList<Operation>[] threads =
        [
            [Cancel(0, 0, 1, 4, "ok cancelled total=10")],
            [Cancel(1, 0, 2, 3, "ok cancelled total=10")],
        ];
        Assert.False(LinearizabilityChecker.IsLinearizable(threads, Workload.Initial));

        threads[1] = [Cancel(1, 0, 2, 3, "error OrderAlreadyCancelled")];
        Assert.True(LinearizabilityChecker.IsLinearizable(threads, Workload.Initial));
    }

    [Fact]
    public void Checker_rejects_a_cancel_whose_units_stay_in_the_ranking()
    {
        IReadOnlyList<Operation>[] threads =
        [
            [Cancel(0, 1, 1, 2, "ok cancelled total=7"), Op(0, OpKind.GetRanking, 0, 0, 3, 4, "p0=1,p1=1")],
        ];
        Assert.False(LinearizabilityChecker.IsLinearizable(threads, Workload.Initial));

        threads[0][1].Result = "p0=1";
        Assert.True(LinearizabilityChecker.IsLinearizable(threads, Workload.Initial));
    }

    [Fact]
    public void Checker_rejects_a_checkout_that_leaves_the_cart_full()
    {
        IReadOnlyList<Operation>[] threads =
        [
            [
                Op(0, OpKind.AddCartItem, 0, 1, 1, 2, "ok cart 1,0"),
                Op(0, OpKind.Checkout, 0, 0, 3, 6, "ok total=10"),
            ],
            [Op(1, OpKind.Checkout, 0, 0, 4, 5, "ok total=10")],
        ];
        Assert.False(LinearizabilityChecker.IsLinearizable(threads, Workload.Initial));

        threads[1][0].Result = "error EmptyOrder";
        Assert.True(LinearizabilityChecker.IsLinearizable(threads, Workload.Initial));
    }

    [Fact]
    public void Concurrent_charges_keyed_charges_orders_cancels_checkouts_restocks_and_reads_are_linearizable()
    {
        for (var seed = 0; seed < Histories; seed++)
        {
            using var shop = NewShop();
            var threads = Workload.Generate(seed);
            Run(shop, threads);
            Assert.True(
                LinearizabilityChecker.IsLinearizable(threads, Workload.Initial),
                $"seed {seed}: no sequential order explains this history:\n{Workload.Describe(threads)}");
        }
    }

    [Fact]
    public void The_workloads_run_one_call_at_a_time_follow_the_specification_and_reach_every_outcome_of_keys_cancels_and_checkouts()
    {
        // Deterministic: each history's calls in turn (one of each thread's, round robin) on one thread.
        var seen = new HashSet<string>();
        for (var seed = 0; seed < Histories; seed++)
        {
            using var shop = NewShop();
            var threads = Workload.Generate(seed);
            Workload.RunInTurn(shop, threads);
            Assert.True(
                LinearizabilityChecker.IsLinearizable(threads, Workload.Initial),
                $"seed {seed}: the specification does not explain this sequential history:\n{Workload.Describe(threads)}");
            seen.UnionWith(threads.SelectMany(t => t).Select(o => $"{o.Kind}: {string.Join(' ', o.Result.Split(' ').Take(2))}"));
        }

        string[] expected =
        [
            "KeyedCharge: error IdempotencyKeyReused", "KeyedCharge: error BalanceLimitExceeded",
            "CancelOrder: ok cancelled", "CancelOrder: error OrderAlreadyCancelled", "CancelOrder: error OrderNotFound",
            "Checkout: ok total=10", "Checkout: error EmptyOrder", "Checkout: error InsufficientBalance", "Checkout: error InsufficientStock",
            "GetOrder: ok placed", "GetOrder: ok cancelled", "GetOrder: error OrderNotFound",
        ];
        Assert.All(expected, e => Assert.Contains(e, seen));
    }

    /// <summary>
    /// Forces the worst interleaving: the first wallet read of two threads both happen before either commits.
    /// </summary>
    /// <param name="seed">The workload's seed.</param>
    /// <param name="fault">How the store departs from the in-memory one.</param>
    /// <param name="keyed">
    /// Whether the two first operations are one keyed charge made twice (the second must replay the first)
    /// rather than two plain charges.
    /// </param>
    private static (Shop Shop, Operation[][] Threads) ForcedHistory(int seed, Fault fault, bool keyed = false)
    {
        var threads = Workload.Generate(seed);
        // Both first operations charge wallet 0, so both read it before the rendezvous.
        threads[0][0] = keyed ? new Operation(0, OpKind.KeyedCharge, 0, 0, 5, 0, Key: 0) : new Operation(0, OpKind.Charge, 0, 0, 5, 0);
        threads[1][0] = keyed ? new Operation(1, OpKind.KeyedCharge, 0, 0, 5, 0, Key: 0) : new Operation(1, OpKind.Charge, 0, 0, 7, 0);
        var rendezvous = new Barrier(2);
        var waited = new ThreadLocal<bool>();
        Shop? shop = null;
        void AfterWalletRead()
        {
            // Only the two racing threads, only on their first read, and only once the workload started.
            if (shop is { } s && Volatile.Read(ref s_armed) && Thread.CurrentThread.Name is "t0" or "t1" && !waited.Value)
            {
                waited.Value = true;
                rendezvous.SignalAndWait();
            }
        }

        shop = NewShop(store => new WrappedStore(store, fault, AfterWalletRead));
        return (shop, threads);
    }

    private static bool s_armed;

    [Fact]
    public void The_real_store_stays_linearizable_when_two_charges_are_forced_to_read_before_either_commits()
    {
        RunForced(Fault.None, out var violations);
        Assert.Equal(0, violations);
    }

    [Fact]
    public void The_real_store_stays_linearizable_when_a_keyed_charge_and_its_repeat_both_read_the_key_before_either_commits()
    {
        RunForced(Fault.None, out var violations, keyed: true);
        Assert.Equal(0, violations);
    }

    [Fact]
    public void A_keyed_charge_and_its_repeat_that_both_read_the_key_before_either_commits_charge_once()
    {
        var (shop, threads) = ForcedHistory(0, Fault.None, keyed: true);
        threads = [[threads[0][0]], [threads[1][0]]];
        using (shop)
        {
            Volatile.Write(ref s_armed, true);
            try
            {
                Run(shop, threads, t => "t" + t);
            }
            finally
            {
                Volatile.Write(ref s_armed, false);
            }

            Assert.Equal(["ok 35", "ok 35"], threads.Select(t => t[0].Result));
            Assert.Equal(new Money(35), RealThreads.Wait(shop.Wallets.GetBalanceAsync(Workload.UserOf(0))));
        }

        Assert.True(LinearizabilityChecker.IsLinearizable(threads, Workload.Initial));
    }

    [Fact]
    public void Linearizability_check_catches_a_store_that_does_not_validate_wallet_reads()
    {
        RunForced(Fault.UncheckedWalletRead, out var violations);

        // The forced interleaving makes both first charges read the same balance, so almost every history
        // loses an update; a few may still be explained by a third thread's order paying back the difference.
        Assert.True(violations > 0, "The checker accepted every history of a store that loses updates.");
    }

    [Fact]
    public void Linearizability_check_catches_the_lost_update_of_two_charges_that_read_before_either_commits()
    {
        var (shop, threads) = ForcedHistory(0, Fault.UncheckedWalletRead);
        threads = [[threads[0][0]], [threads[1][0]]];
        using (shop)
        {
            Volatile.Write(ref s_armed, true);
            try
            {
                Run(shop, threads, t => "t" + t);
            }
            finally
            {
                Volatile.Write(ref s_armed, false);
            }
        }

        Assert.Equal(["ok 35", "ok 37"], threads.Select(t => t[0].Result));
        Assert.False(LinearizabilityChecker.IsLinearizable(threads, Workload.Initial));
    }

    private static void RunForced(Fault fault, out int violations, bool keyed = false)
    {
        violations = 0;
        for (var seed = 0; seed < ForcedHistories; seed++)
        {
            var (shop, threads) = ForcedHistory(seed, fault, keyed);
            using (shop)
            {
                Volatile.Write(ref s_armed, true);
                try
                {
                    Run(shop, threads, t => "t" + t);
                }
                finally
                {
                    Volatile.Write(ref s_armed, false);
                }
            }

            if (!LinearizabilityChecker.IsLinearizable(threads, Workload.Initial))
            {
                violations++;
            }
        }
    }
}
