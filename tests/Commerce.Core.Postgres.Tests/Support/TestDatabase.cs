namespace Commerce.Postgres.Tests.Support;

/// <summary>
/// The PostgreSQL server the tests use: the one <c>COMMERCE_POSTGRES</c> names, else a
/// <see cref="ThrowAwayPostgres"/> started on first use and stopped when the test run ends
/// (<see cref="PostgresTestFramework"/>). Only on a machine with neither are the PostgreSQL tests skipped,
/// and never under CI (env var <c>CI</c> set), where they run and fail. Likewise a
/// <see cref="ThrowAwayPgBouncer"/> in front of that server, for the tests that run through PgBouncer.
/// </summary>
internal static class TestDatabase
{
    /// <summary>The environment variable that names a server to use instead of a throw-away one.</summary>
    public const string Variable = "COMMERCE_POSTGRES";

    private static readonly string? External = Environment.GetEnvironmentVariable(Variable) is { Length: > 0 } value ? value : null;
    private static readonly string? Binaries = External is null ? ServerBinaries.PostgresOnThisMachine() : null;
    private static readonly Lazy<ThrowAwayPostgres> Server = new(() => ThrowAwayPostgres.Start(
        Binaries ?? throw new InvalidOperationException(SkipReasonFor(External, Binaries) + " CI requires the PostgreSQL tests to run.")));

    private static readonly string? PgBouncerProgram = ServerBinaries.PgBouncerOnThisMachine();
    private static readonly Lazy<ThrowAwayPgBouncer> Bouncer = new(() => ThrowAwayPgBouncer.Start(
        PgBouncerProgram ?? throw new InvalidOperationException(PgBouncerSkipReasonFor(null) + " CI requires the PgBouncer tests to run."),
        ConnectionString));

    /// <summary>Whether the tests run under CI, where a test that cannot run fails instead of being skipped.</summary>
    public static bool UnderCi => !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("CI"));

    /// <summary>Why the PostgreSQL tests cannot run here, in one line; <see langword="null"/> when they can (or must: under CI).</summary>
    public static string? SkipReason => UnderCi ? null : SkipReasonFor(External, Binaries);

    /// <summary>Why the tests through PgBouncer cannot run here, in one line; <see langword="null"/> when they can (or must: under CI).</summary>
    public static string? PgBouncerSkipReason => UnderCi ? null : SkipReason ?? PgBouncerSkipReasonFor(PgBouncerProgram);

    /// <summary>The <c>pgbouncer</c> program, if the machine has one.</summary>
    public static string? PgBouncer => PgBouncerProgram;

    /// <summary>A connection string through PgBouncer (transaction pooling) to the test server; starts both on first use.</summary>
    public static string PgBouncerConnectionString => Bouncer.Value.ConnectionString;

    /// <summary>Whether a server is there to use (named, or startable).</summary>
    public static bool IsAvailable => External is not null || Binaries is not null;

    /// <summary>Whether the tests use a throw-away server rather than the one <c>COMMERCE_POSTGRES</c> names.</summary>
    public static bool IsThrowAway => External is null;

    /// <summary>The superuser connection string; starts the throw-away server on first use.</summary>
    /// <exception cref="InvalidOperationException">No server is named and none can be started.</exception>
    public static string ConnectionString => External ?? Server.Value.ConnectionString;

    /// <summary>The throw-away server; starts it on first use.</summary>
    public static ThrowAwayPostgres ThrowAwayServer => IsThrowAway
        ? Server.Value
        : throw new InvalidOperationException($"The tests use the server {Variable} names, not a throw-away one.");

    /// <summary>The skip reason for a machine with <paramref name="external"/> set or not and <paramref name="binaries"/> found or not.</summary>
    internal static string? SkipReasonFor(string? external, string? binaries) => external is null && binaries is null
        ? $"PostgreSQL tests skipped: {Variable} is not set and no server binaries (initdb, pg_ctl) are on PATH or in /usr/lib/postgresql/*/bin (Debian: apt-get install postgresql)."
        : null;

    /// <summary>The skip reason for a machine with <paramref name="program"/> found or not.</summary>
    internal static string? PgBouncerSkipReasonFor(string? program) => program is null
        ? "PgBouncer tests skipped: pgbouncer is not on PATH or in /usr/sbin (Debian: apt-get install pgbouncer)."
        : null;

    /// <summary>Stops PgBouncer and the throw-away server, those that were started; called once, when the test run ends.</summary>
    public static void Stop()
    {
        try
        {
            if (Bouncer.IsValueCreated)
            {
                Bouncer.Value.Dispose();
            }
        }
        finally
        {
            if (Server.IsValueCreated)
            {
                Server.Value.Dispose();
            }
        }
    }
}
