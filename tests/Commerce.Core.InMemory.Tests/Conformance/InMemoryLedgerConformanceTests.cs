using Commerce.Conformance;

namespace Commerce.InMemory.Tests.Conformance;

// The ledger, idempotency, cancel, checkout and event conformance suites on the in-memory store.

public sealed class InMemoryIdempotencyTests : IdempotencyConformanceTests
{
    protected override void UseStore(ICommerceBuilder builder) => builder.UseInMemoryStore();
}

public sealed class InMemoryLedgerTests : LedgerConformanceTests
{
    protected override void UseStore(ICommerceBuilder builder) => builder.UseInMemoryStore();
}

public sealed class InMemoryCancelTests : CancelConformanceTests
{
    protected override void UseStore(ICommerceBuilder builder) => builder.UseInMemoryStore();
}

public sealed class InMemoryCheckoutTests : CheckoutConformanceTests
{
    protected override void UseStore(ICommerceBuilder builder) => builder.UseInMemoryStore();
}

public sealed class InMemoryOrderListingTests : OrderListingConformanceTests
{
    protected override void UseStore(ICommerceBuilder builder) => builder.UseInMemoryStore();
}

public sealed class InMemoryLedgerConcurrencyTests : LedgerConcurrencyConformanceTests
{
    protected override void UseStore(ICommerceBuilder builder) => builder.UseInMemoryStore();
}

public sealed class InMemoryLedgerPropertyTests : LedgerPropertyConformanceTests
{
    // Memory is fast: more and longer sequences than a database suite can afford.
    protected override int Cases => 100;

    protected override int MaxSteps => 40;

    protected override void UseStore(ICommerceBuilder builder) => builder.UseInMemoryStore();
}

public sealed class InMemoryEventTests : EventConformanceTests
{
    // Memory is fast: more and longer concurrent workloads than a database suite can afford.
    protected override int ReplayCases => 8;

    protected override int ReplayOperationsPerThread => 600;

    protected override void UseStore(ICommerceBuilder builder) => builder.UseInMemoryStore();
}

public sealed class InMemoryLinearizabilityTests : LinearizabilityConformanceTests
{
    // The in-memory suite's own linearizability tests run 300 histories with widened overlap windows.
    protected override void UseStore(ICommerceBuilder builder) => builder.UseInMemoryStore();
}

public sealed class InMemoryEventPropertyTests : EventPropertyConformanceTests
{
    // Memory is fast: more and longer sequences than a database suite can afford.
    protected override int Cases => 60;

    protected override int MaxSteps => 40;

    protected override void UseStore(ICommerceBuilder builder) => builder.UseInMemoryStore();
}
