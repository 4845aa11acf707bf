using System.Globalization;
using Commerce.Postgres.Tests.Support;
using Npgsql;

namespace Commerce.Postgres.Tests;

/// <summary>The test fixture's servers: found, started as an unprivileged user, stopped and deleted.</summary>
public sealed class ThrowAwayPostgresTests
{
    [PostgresFact]
    public async Task The_test_server_accepts_connections_and_runs_as_an_unprivileged_user()
    {
        await using var connection = new NpgsqlConnection(TestDatabase.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT pg_backend_pid(), current_setting('data_directory')", connection);
        await using var reader = await command.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        var backend = reader.GetInt32(0);
        var dataDirectory = reader.GetString(1);

        if (TestDatabase.IsThrowAway)
        {
            Assert.Equal(Path.Combine(TestDatabase.ThrowAwayServer.Directory, "data"), dataDirectory);
            Assert.NotEqual("0", UidOf(backend)); // initdb and postgres refuse root; the fixture runs them as another user
        }
    }

    [PostgresFact(NeedsServerBinaries = true)]
    public async Task A_server_is_reachable_once_started_and_gone_with_its_directory_once_disposed()
    {
        var server = ThrowAwayPostgres.Start(ServerBinaries.PostgresOnThisMachine()!, maxConnections: 10);
        var connectionString = server.ConnectionString + ";Pooling=false";
        try
        {
            await using var connection = new NpgsqlConnection(connectionString);
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand("SHOW max_connections", connection);
            Assert.Equal("10", await command.ExecuteScalarAsync());
        }
        finally
        {
            server.Dispose();
        }

        Assert.False(Directory.Exists(server.Directory));
        await using var refused = new NpgsqlConnection(connectionString);
        await Assert.ThrowsAnyAsync<NpgsqlException>(() => refused.OpenAsync());
    }

    [Fact]
    public void A_live_process_is_recognised_by_a_start_time_another_process_computed_and_a_reused_id_is_not()
    {
        // Another process computes a process's start time from the boot time as it sees it: a few milliseconds off.
        var (pid, started) = ServerOwner.ThisProcess.Split(' ') is [var id, var ticks] ? (id, long.Parse(ticks, System.Globalization.CultureInfo.InvariantCulture)) : throw new InvalidOperationException();
        Assert.True(ServerOwner.IsRunning($"{pid} {started + (3 * TimeSpan.TicksPerMillisecond)}"));
        Assert.True(ServerOwner.IsRunning($"{pid} {started - (3 * TimeSpan.TicksPerMillisecond)}"));

        // The same id with a start time seconds away: another process that had the id before.
        Assert.False(ServerOwner.IsRunning($"{pid} {started - (5 * TimeSpan.TicksPerSecond)}"));
    }

    [PostgresFact(NeedsServerBinaries = true)]
    public async Task A_server_whose_test_run_was_killed_is_stopped_and_deleted_by_the_next_sweep_and_a_live_runs_server_is_not()
    {
        var binaries = ServerBinaries.PostgresOnThisMachine()!;
        var abandoned = ThrowAwayPostgres.Start(binaries, maxConnections: 10);
        var kept = ThrowAwayPostgres.Start(binaries, maxConnections: 10);
        try
        {
            // As if a killed run had started it: its owner file names a process that has exited.
            using var gone = System.Diagnostics.Process.Start("true")!;
            await gone.WaitForExitAsync();
            File.WriteAllText(Path.Combine(abandoned.Directory, ServerOwner.OwnerFile), $"{gone.Id} 0");
            Assert.False(ServerOwner.IsRunning($"{gone.Id} 0"));
            Assert.True(ServerOwner.IsRunning(ServerOwner.ThisProcess));

            Assert.InRange(ThrowAwayPostgres.SweepAbandoned(binaries), 1, int.MaxValue); // with any that other killed runs left

            Assert.False(Directory.Exists(abandoned.Directory));
            await using var refused = new NpgsqlConnection(abandoned.ConnectionString + ";Pooling=false");
            await Assert.ThrowsAnyAsync<NpgsqlException>(() => refused.OpenAsync());
            await using var connection = new NpgsqlConnection(kept.ConnectionString + ";Pooling=false");
            await connection.OpenAsync();
        }
        finally
        {
            kept.Dispose();
        }
    }

    [Fact]
    public void Without_binaries_or_a_named_server_the_skip_reason_is_one_line()
    {
        var empty = Directory.CreateTempSubdirectory("commerce-empty-").FullName;
        try
        {
            var binaries = ServerBinaries.FindPostgres(empty, empty);
            Assert.Null(binaries);

            var reason = TestDatabase.SkipReasonFor(null, binaries);
            Assert.NotNull(reason);
            Assert.DoesNotContain('\n', reason);
            Assert.Contains("initdb", reason, StringComparison.Ordinal);
            Assert.Contains(TestDatabase.Variable, reason, StringComparison.Ordinal);
            Assert.Null(TestDatabase.SkipReasonFor(null, "/usr/lib/postgresql/15/bin"));
            Assert.Null(TestDatabase.SkipReasonFor("Host=db", null));
        }
        finally
        {
            Directory.Delete(empty, recursive: true);
        }
    }

    [Fact]
    public void Binaries_are_found_on_the_path_first_then_in_the_newest_version_directory()
    {
        var root = Directory.CreateTempSubdirectory("commerce-bins-").FullName;
        try
        {
            var versions = Path.Combine(root, "postgresql");
            var v9 = Programs(Path.Combine(versions, "9.6", "bin"), "initdb", "pg_ctl");
            var v15 = Programs(Path.Combine(versions, "15", "bin"), "initdb", "pg_ctl");
            Programs(Path.Combine(versions, "16", "bin"), "initdb"); // no pg_ctl: not a server's binaries
            var onPath = Programs(Path.Combine(root, "path"), "initdb", "pg_ctl");
            var bouncer = Programs(Path.Combine(root, "sbin"), "pgbouncer");

            Assert.Equal(v15, ServerBinaries.FindPostgres(null, versions));
            Assert.Equal(onPath, ServerBinaries.FindPostgres(Path.Combine(root, "nothing") + Path.PathSeparator + onPath, versions));
            Assert.NotEqual(v9, ServerBinaries.FindPostgres("", versions));
            Assert.Equal(Path.Combine(bouncer, "pgbouncer"), ServerBinaries.FindPgBouncer(onPath, bouncer));
            Assert.Null(ServerBinaries.FindPgBouncer(onPath, v15));
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }

        static string Programs(string directory, params string[] names)
        {
            Directory.CreateDirectory(directory);
            foreach (var name in names)
            {
                var file = Path.Combine(directory, name);
                File.WriteAllText(file, "#!/bin/sh\n");
                if (!OperatingSystem.IsWindows())
                {
                    File.SetUnixFileMode(file, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
                }
            }

            return directory;
        }
    }

    /// <summary>The real user id of a local process (Linux).</summary>
    private static string UidOf(int pid) =>
        File.ReadLines($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/status")
            .First(line => line.StartsWith("Uid:", StringComparison.Ordinal))
            .Split('\t', StringSplitOptions.RemoveEmptyEntries)[1];
}
