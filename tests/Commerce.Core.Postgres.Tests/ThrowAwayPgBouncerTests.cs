using Commerce.Conformance;
using Commerce.Postgres.Tests.Support;
using Npgsql;

namespace Commerce.Postgres.Tests;

/// <summary>The test fixture's PgBouncer: transaction pooling in front of the test server, gone once disposed.</summary>
[RequiresPgBouncer]
public sealed class ThrowAwayPgBouncerTests
{
    [StoreFact]
    public async Task It_lends_its_one_server_connection_to_each_client_for_a_transaction_and_is_gone_once_disposed()
    {
        var bouncer = ThrowAwayPgBouncer.Start(TestDatabase.PgBouncer!, TestDatabase.ConnectionString, poolSize: 1);
        var through = bouncer.ConnectionString + ";Pooling=false";
        try
        {
            await using var first = new NpgsqlConnection(through);
            await using var second = new NpgsqlConnection(through);
            await first.OpenAsync();
            await second.OpenAsync();

            // Two client connections open at once, one server connection: in session pooling the second would wait for ever.
            Assert.Equal(await BackendAsync(first), await BackendAsync(second));
            Assert.Equal(await BackendAsync(first), await BackendAsync(second));
        }
        finally
        {
            bouncer.Dispose();
        }

        Assert.False(Directory.Exists(bouncer.Directory));
        await using var refused = new NpgsqlConnection(through);
        await Assert.ThrowsAnyAsync<NpgsqlException>(() => refused.OpenAsync());
    }

    [StoreFact]
    public async Task One_whose_test_run_was_killed_is_killed_and_deleted_by_the_next_sweep()
    {
        var bouncer = ThrowAwayPgBouncer.Start(TestDatabase.PgBouncer!, TestDatabase.ConnectionString, poolSize: 1);
        await using (var reached = new NpgsqlConnection(bouncer.ConnectionString + ";Pooling=false"))
        {
            await reached.OpenAsync();
        }

        // As if a killed run had started it: its owner file names a process that has exited.
        using var gone = System.Diagnostics.Process.Start("true")!;
        await gone.WaitForExitAsync();
        File.WriteAllText(Path.Combine(bouncer.Directory, ServerOwner.OwnerFile), $"{gone.Id} 0");

        Assert.InRange(ThrowAwayPgBouncer.SweepAbandoned(), 1, int.MaxValue);

        Assert.False(Directory.Exists(bouncer.Directory));
        await using var refused = new NpgsqlConnection(bouncer.ConnectionString + ";Pooling=false");
        await Assert.ThrowsAnyAsync<NpgsqlException>(() => refused.OpenAsync());
    }

    [Fact]
    public void Without_pgbouncer_the_skip_reason_is_one_line()
    {
        var reason = TestDatabase.PgBouncerSkipReasonFor(null);

        Assert.NotNull(reason);
        Assert.DoesNotContain('\n', reason);
        Assert.Contains("pgbouncer", reason, StringComparison.Ordinal);
        Assert.Null(TestDatabase.PgBouncerSkipReasonFor("/usr/sbin/pgbouncer"));
    }

    private static async Task<int> BackendAsync(NpgsqlConnection connection)
    {
        await using var command = new NpgsqlCommand("SELECT pg_backend_pid()", connection);
        return (int)(await command.ExecuteScalarAsync())!;
    }
}
