namespace Commerce.Postgres.Tests.Support;

/// <summary>
/// The PostgreSQL server the tests use: the one <c>COMMERCE_POSTGRES</c> names, else a
/// <see cref="ThrowAwayPostgres"/> started on first use and stopped when the test run ends
/// (<see cref="PostgresTestFramework"/>). Only on a machine with neither are the PostgreSQL tests skipped,
/// and never under CI (env var <c>CI</c> set), where they run and fail.
/// </summary>
internal static class TestDatabase
{
    /// <summary>The environment variable that names a server to use instead of a throw-away one.</summary>
    public const string Variable = "COMMERCE_POSTGRES";

    private static readonly string? External = Environment.GetEnvironmentVariable(Variable) is { Length: > 0 } value ? value : null;
    private static readonly string? Binaries = External is null ? ServerBinaries.PostgresOnThisMachine() : null;
    private static readonly Lazy<ThrowAwayPostgres> Server = new(() => ThrowAwayPostgres.Start(
        Binaries ?? throw new InvalidOperationException(SkipReasonFor(External, Binaries) + " CI requires the PostgreSQL tests to run.")));

    /// <summary>Whether the tests run under CI, where a test that cannot run fails instead of being skipped.</summary>
    public static bool UnderCi => !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("CI"));

    /// <summary>Why the PostgreSQL tests cannot run here, in one line; <see langword="null"/> when they can (or must: under CI).</summary>
    public static string? SkipReason => UnderCi ? null : SkipReasonFor(External, Binaries);

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

    /// <summary>Stops the throw-away server, if one was started; called once, when the test run ends.</summary>
    public static void Stop()
    {
        if (Server.IsValueCreated)
        {
            Server.Value.Dispose();
        }
    }
}
