using Commerce.Conformance;

namespace Commerce.InMemory.Tests.Conformance;

// The conformance suite on the in-memory store: one concrete class per abstract suite.

public sealed class InMemoryWalletTests : WalletConformanceTests
{
    protected override void UseStore(ICommerceBuilder builder) => builder.UseInMemoryStore();
}

public sealed class InMemoryCatalogTests : CatalogConformanceTests
{
    protected override void UseStore(ICommerceBuilder builder) => builder.UseInMemoryStore();
}

public sealed class InMemoryOrderTests : OrderConformanceTests
{
    protected override void UseStore(ICommerceBuilder builder) => builder.UseInMemoryStore();
}

public sealed class InMemoryRankingTests : RankingConformanceTests
{
    protected override void UseStore(ICommerceBuilder builder) => builder.UseInMemoryStore();
}

public sealed class InMemoryCartTests : CartConformanceTests
{
    protected override void UseStore(ICommerceBuilder builder) => builder.UseInMemoryStore();
}

public sealed class InMemoryConcurrencyTests : ConcurrencyConformanceTests
{
    protected override void UseStore(ICommerceBuilder builder) => builder.UseInMemoryStore();
}

public sealed class InMemoryScenarioTests : ScenarioConformanceTests
{
    protected override void UseStore(ICommerceBuilder builder) => builder.UseInMemoryStore();
}

public sealed class InMemoryModelTests : ModelConformanceTests
{
    // Memory is fast: many more and longer command lists than a database suite can afford.
    protected override int ModelCases => 200;

    protected override int ModelMaxCommands => 60;

    protected override int ClockCases => 100;

    protected override int ClockMaxCommands => 60;

    protected override void UseStore(ICommerceBuilder builder) => builder.UseInMemoryStore();
}

public sealed class InMemoryLimitsTests : LimitsConformanceTests
{
    protected override void UseStore(ICommerceBuilder builder) => builder.UseInMemoryStore();
}
