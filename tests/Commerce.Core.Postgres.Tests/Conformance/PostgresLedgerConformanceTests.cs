using Commerce.Conformance;
using Commerce.Postgres.Tests.Support;

namespace Commerce.Postgres.Tests.Conformance;

// The ledger, idempotency, cancel, checkout and order-listing conformance suites on the PostgreSQL
// store, each shop on a fresh schema (see PostgresConformance).

[RequiresPostgres]
public sealed class PostgresIdempotencyTests : IdempotencyConformanceTests
{
    protected override void UseStore(ICommerceBuilder builder) => PostgresConformance.UseFreshSchema(builder);
}

[RequiresPostgres]
public sealed class PostgresLedgerTests : LedgerConformanceTests
{
    protected override void UseStore(ICommerceBuilder builder) => PostgresConformance.UseFreshSchema(builder);
}

[RequiresPostgres]
public sealed class PostgresCancelTests : CancelConformanceTests
{
    protected override void UseStore(ICommerceBuilder builder) => PostgresConformance.UseFreshSchema(builder);
}

[RequiresPostgres]
public sealed class PostgresCheckoutTests : CheckoutConformanceTests
{
    protected override void UseStore(ICommerceBuilder builder) => PostgresConformance.UseFreshSchema(builder);
}

[RequiresPostgres]
public sealed class PostgresOrderListingTests : OrderListingConformanceTests
{
    protected override void UseStore(ICommerceBuilder builder) => PostgresConformance.UseFreshSchema(builder);
}

[RequiresPostgres]
public sealed class PostgresLedgerConcurrencyTests : LedgerConcurrencyConformanceTests
{
    protected override void UseStore(ICommerceBuilder builder) => PostgresConformance.UseFreshSchema(builder);
}

/// <summary>The ledger's concurrency suite with the store connected through PgBouncer in transaction-pooling mode.</summary>
[RequiresPgBouncer]
public sealed class PgBouncerLedgerConcurrencyTests : LedgerConcurrencyConformanceTests
{
    protected override void UseStore(ICommerceBuilder builder) => PostgresConformance.UseFreshSchema(builder, TestDatabase.PgBouncerConnectionString);
}

[RequiresPostgres]
public sealed class PostgresLedgerPropertyTests : LedgerPropertyConformanceTests
{
    protected override void UseStore(ICommerceBuilder builder) => PostgresConformance.UseFreshSchema(builder);
}

[RequiresPostgres]
public sealed class PostgresEventTests : EventConformanceTests
{
    protected override void UseStore(ICommerceBuilder builder) => PostgresConformance.UseFreshSchema(builder);
}

[RequiresPostgres]
public sealed class PostgresGroupCommitEventTests : EventConformanceTests
{
    protected override void UseStore(ICommerceBuilder builder) => PostgresConformance.UseFreshSchema(builder, groupCommit: true);
}

[RequiresPostgres]
public sealed class PostgresLinearizabilityTests : LinearizabilityConformanceTests
{
    protected override void UseStore(ICommerceBuilder builder) => PostgresConformance.UseFreshSchema(builder);
}

[RequiresPostgres]
public sealed class PostgresGroupCommitLinearizabilityTests : LinearizabilityConformanceTests
{
    protected override void UseStore(ICommerceBuilder builder) => PostgresConformance.UseFreshSchema(builder, groupCommit: true);
}

[RequiresPostgres]
public sealed class PostgresEventPropertyTests : EventPropertyConformanceTests
{
    protected override void UseStore(ICommerceBuilder builder) => PostgresConformance.UseFreshSchema(builder);
}
