using Commerce.Conformance;
using Commerce.Postgres.Tests.Support;

namespace Commerce.Postgres.Tests.Conformance;

// The services' behaviour and concurrency suites on the PostgreSQL store with group commit on: every
// commit with writes goes through the store's committer, alone or with concurrent ones.

[RequiresPostgres]
public sealed class PostgresGroupCommitWalletTests : WalletConformanceTests
{
    protected override void UseStore(ICommerceBuilder builder) => PostgresConformance.UseFreshSchema(builder, groupCommit: true);
}

[RequiresPostgres]
public sealed class PostgresGroupCommitCatalogTests : CatalogConformanceTests
{
    protected override void UseStore(ICommerceBuilder builder) => PostgresConformance.UseFreshSchema(builder, groupCommit: true);
}

[RequiresPostgres]
public sealed class PostgresGroupCommitOrderTests : OrderConformanceTests
{
    protected override void UseStore(ICommerceBuilder builder) => PostgresConformance.UseFreshSchema(builder, groupCommit: true);
}

[RequiresPostgres]
public sealed class PostgresGroupCommitCartTests : CartConformanceTests
{
    protected override void UseStore(ICommerceBuilder builder) => PostgresConformance.UseFreshSchema(builder, groupCommit: true);
}

[RequiresPostgres]
public sealed class PostgresGroupCommitConcurrencyTests : ConcurrencyConformanceTests
{
    protected override void UseStore(ICommerceBuilder builder) => PostgresConformance.UseFreshSchema(builder, groupCommit: true);
}

[RequiresPostgres]
public sealed class PostgresGroupCommitIdempotencyTests : IdempotencyConformanceTests
{
    protected override void UseStore(ICommerceBuilder builder) => PostgresConformance.UseFreshSchema(builder, groupCommit: true);
}

[RequiresPostgres]
public sealed class PostgresGroupCommitCancelTests : CancelConformanceTests
{
    protected override void UseStore(ICommerceBuilder builder) => PostgresConformance.UseFreshSchema(builder, groupCommit: true);
}

[RequiresPostgres]
public sealed class PostgresGroupCommitCheckoutTests : CheckoutConformanceTests
{
    protected override void UseStore(ICommerceBuilder builder) => PostgresConformance.UseFreshSchema(builder, groupCommit: true);
}

[RequiresPostgres]
public sealed class PostgresGroupCommitLedgerConcurrencyTests : LedgerConcurrencyConformanceTests
{
    protected override void UseStore(ICommerceBuilder builder) => PostgresConformance.UseFreshSchema(builder, groupCommit: true);
}

[RequiresPostgres]
public sealed class PostgresGroupCommitLimitsTests : LimitsConformanceTests
{
    protected override void UseStore(ICommerceBuilder builder) => PostgresConformance.UseFreshSchema(builder, groupCommit: true);
}
