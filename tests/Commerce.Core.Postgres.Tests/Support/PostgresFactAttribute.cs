namespace Commerce.Postgres.Tests.Support;

/// <summary>
/// A fact that needs PostgreSQL (env var <c>COMMERCE_POSTGRES</c>). Without it the test is skipped,
/// except under CI (env var <c>CI</c> set), where it runs and fails: a missing server fails CI.
/// </summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class PostgresFactAttribute : FactAttribute
{
    public PostgresFactAttribute()
    {
        if (PgShop.ConnectionString is null && string.IsNullOrEmpty(Environment.GetEnvironmentVariable("CI")))
        {
            Skip = "PostgreSQL tests need the env var COMMERCE_POSTGRES (e.g. \"Host=127.0.0.1;Port=5432;Username=postgres;Database=postgres\"); `.ci/postgres.sh start` prints one.";
        }
    }
}
