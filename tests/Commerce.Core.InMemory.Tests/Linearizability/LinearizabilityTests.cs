using Commerce.Conformance;
using Commerce.InMemory.Tests.Support;

namespace Commerce.InMemory.Tests.Linearizability;

public sealed class LinearizabilityTests
{
    private const int Histories = 300;
    private const int ForcedHistories = 40;

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

    [Fact]
    public void Concurrent_charges_orders_restocks_and_reads_are_linearizable()
    {
        for (var seed = 0; seed < Histories; seed++)
        {
            using var shop = Workload.NewShop();
            var threads = Workload.Generate(seed);
            Workload.Run(shop, threads);
            Assert.True(
                LinearizabilityChecker.IsLinearizable(threads, Workload.Initial),
                $"seed {seed}: no sequential order explains this history:\n{Workload.Describe(threads)}");
        }
    }

    /// <summary>
    /// Forces the worst interleaving: the first wallet read of two threads both happen before either commits.
    /// </summary>
    private static (Shop Shop, Operation[][] Threads) ForcedHistory(int seed, Fault fault)
    {
        var threads = Workload.Generate(seed);
        // Both first operations charge wallet 0, so both read it before the rendezvous.
        threads[0][0] = new Operation(0, OpKind.Charge, 0, 0, 5, 0);
        threads[1][0] = new Operation(1, OpKind.Charge, 0, 0, 7, 0);
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

        shop = Workload.NewShop(store => new WrappedStore(store, fault, AfterWalletRead));
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
                Workload.Run(shop, threads, t => "t" + t);
            }
            finally
            {
                Volatile.Write(ref s_armed, false);
            }
        }

        Assert.Equal(["ok 35", "ok 37"], threads.Select(t => t[0].Result));
        Assert.False(LinearizabilityChecker.IsLinearizable(threads, Workload.Initial));
    }

    private static void RunForced(Fault fault, out int violations)
    {
        violations = 0;
        for (var seed = 0; seed < ForcedHistories; seed++)
        {
            var (shop, threads) = ForcedHistory(seed, fault);
            using (shop)
            {
                Volatile.Write(ref s_armed, true);
                try
                {
                    Workload.Run(shop, threads, t => "t" + t);
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
