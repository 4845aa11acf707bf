using Commerce.Conformance;

namespace Commerce.Postgres.Tests.Support;

/// <summary>
/// A fact that needs PostgreSQL: the server <c>COMMERCE_POSTGRES</c> names, or a throw-away one started
/// from the machine's server binaries (see <see cref="TestDatabase"/>). Skipped, with the reason in one
/// line, only where neither exists, and never under CI (env var <c>CI</c> set), where it runs and fails.
/// </summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class PostgresFactAttribute : FactAttribute
{
    public PostgresFactAttribute()
    {
        if (TestDatabase.SkipReason is { } reason)
        {
            Skip = reason;
        }
    }

    /// <summary>Whether the test starts servers of its own, so needs the server binaries even where <c>COMMERCE_POSTGRES</c> names a server.</summary>
    public bool NeedsServerBinaries
    {
        get => field;
        init
        {
            field = value;
            if (value && Skip is null && !TestDatabase.UnderCi && ServerBinaries.PostgresOnThisMachine() is null)
            {
                Skip = TestDatabase.SkipReasonFor(null, null);
            }
        }
    }
}

/// <summary>Marks a conformance class that runs on PostgreSQL: its tests are skipped as <see cref="PostgresFactAttribute"/>'s are.</summary>
[AttributeUsage(AttributeTargets.Class)]
public sealed class RequiresPostgresAttribute : StoreRequirementAttribute
{
    /// <inheritdoc />
    public override string? SkipReason => TestDatabase.SkipReason;
}

/// <summary>Marks a class whose tests run through PgBouncer: skipped, in one line, where PostgreSQL or pgbouncer is missing (never under CI).</summary>
[AttributeUsage(AttributeTargets.Class)]
public sealed class RequiresPgBouncerAttribute : StoreRequirementAttribute
{
    /// <inheritdoc />
    public override string? SkipReason => TestDatabase.PgBouncerSkipReason;
}
