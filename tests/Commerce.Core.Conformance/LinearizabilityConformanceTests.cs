using Commerce.Conformance.Linearizability;

namespace Commerce.Conformance;

/// <summary>
/// Small random concurrent histories (2–3 real threads × 3–5 calls on two wallets, two products, their carts,
/// keyed charges and two orders placed beforehand) run on the store under test, each checked with a
/// Wing–Gong search: some sequential order of the same calls, respecting real time, must give every answer
/// the threads saw.
/// </summary>
public abstract class LinearizabilityConformanceTests : CommerceConformanceTests
{
    /// <summary>How many histories the test runs, each on a fresh shop.</summary>
    protected virtual int Histories => 30;

    [StoreFact]
    public void Concurrent_charges_keyed_charges_orders_cancels_checkouts_restocks_and_reads_are_linearizable()
    {
        for (var seed = 0; seed < Histories; seed++)
        {
            using var shop = Workload.NewShop(limits => CreateShop(limits));
            var threads = Workload.Generate(seed);
            Workload.Run(shop, threads);
            Assert.True(
                LinearizabilityChecker.IsLinearizable(threads, Workload.Initial),
                $"seed {seed}: no sequential order explains this history:\n{Workload.Describe(threads)}");
        }
    }
}
