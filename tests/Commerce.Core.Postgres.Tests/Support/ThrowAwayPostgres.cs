namespace Commerce.Postgres.Tests.Support;

/// <summary>
/// A PostgreSQL server for the tests only: <c>initdb</c> in a new temp directory, <c>pg_ctl start</c> on a
/// free loopback port (trust authentication unless a password is given, no fsync: nothing in it outlives the tests), and on disposal
/// <c>pg_ctl stop -m fast</c> and the directory deleted. Its programs run as <see cref="ServerOwner"/> says.
/// </summary>
internal sealed class ThrowAwayPostgres : IDisposable
{
    private readonly string _binaries;
    private bool _stopped;

    private ThrowAwayPostgres(string binaries, string directory, int port, string? password)
    {
        _binaries = binaries;
        Directory = directory;
        Port = port;
        ConnectionString = $"Host=127.0.0.1;Port={port};Username=postgres;Database=postgres" + (password is null ? string.Empty : ";Password=" + password);
    }

    /// <summary>The temp directory holding the data directory, the log and the socket.</summary>
    public string Directory { get; }

    /// <summary>The loopback port the server listens on.</summary>
    public int Port { get; }

    /// <summary>The connection string of the superuser <c>postgres</c> (with its password, if the server was given one).</summary>
    public string ConnectionString { get; }

    private string DataDirectory => Path.Combine(Directory, "data");

    /// <summary>Creates and starts a server with the binaries in <paramref name="binaries"/>; returns once it accepts connections.</summary>
    /// <param name="binaries">The directory holding <c>initdb</c> and <c>pg_ctl</c>.</param>
    /// <param name="maxConnections">The server's <c>max_connections</c>.</param>
    /// <param name="password">
    /// The superuser's password: connections over TCP then authenticate with it (<c>scram-sha-256</c>), so that a wrong
    /// one is refused; <see langword="null"/> for trust authentication.
    /// </param>
    public static ThrowAwayPostgres Start(string binaries, int maxConnections = 200, string? password = null)
    {
        SweepOnce(binaries);
        var directory = ServerOwner.CreateDirectory(Prefix);
        var server = new ThrowAwayPostgres(binaries, directory, ServerOwner.FreePort(), password);
        try
        {
            if (password is null)
            {
                ServerOwner.RunAsOwner(Path.Combine(binaries, "initdb"), "-D", server.DataDirectory, "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8");
            }
            else
            {
                var passwordFile = Path.Combine(directory, "password");
                File.WriteAllText(passwordFile, password + "\n");
                ServerOwner.RunAsOwner(Path.Combine(binaries, "initdb"), "-D", server.DataDirectory, "-U", "postgres", "--auth-local=trust", "--auth-host=scram-sha-256", "--pwfile=" + passwordFile, "--no-sync", "-E", "UTF8");
            }

            var settings = $"-p {server.Port} -k {directory} -c listen_addresses=127.0.0.1 -c max_connections={maxConnections} -c fsync=off";
            ServerOwner.RunAsOwner(Path.Combine(binaries, "pg_ctl"), "-D", server.DataDirectory, "-l", Path.Combine(directory, "server.log"), "-o", settings, "-w", "start");
            return server;
        }
        catch
        {
            server.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Restarts the server as after a crash (<c>pg_ctl restart -m immediate</c>: every backend killed at once,
    /// recovery from the write-ahead log at start, with the same settings); returns once it accepts connections.
    /// </summary>
    public void RestartAfterCrash() =>
        ServerOwner.RunAsOwner(Path.Combine(_binaries, "pg_ctl"), "-D", DataDirectory, "-l", Path.Combine(Directory, "server.log"), "-m", "immediate", "-w", "restart");

    /// <summary>Stops the server (if it runs) and deletes its directory.</summary>
    public void Dispose()
    {
        if (_stopped)
        {
            return;
        }

        _stopped = true;
        try
        {
            if (File.Exists(Path.Combine(DataDirectory, "postmaster.pid")))
            {
                ServerOwner.RunAsOwner(Path.Combine(_binaries, "pg_ctl"), "-D", DataDirectory, "-m", "fast", "-w", "stop");
            }
        }
        finally
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
    }

    /// <summary>
    /// Stops the servers that killed test runs left behind (their owner process is gone: see
    /// <see cref="ServerOwner.Abandoned"/>) and deletes their directories; returns how many directories
    /// it removed. A server this process started is never touched.
    /// </summary>
    /// <param name="binaries">The directory holding <c>pg_ctl</c>.</param>
    public static int SweepAbandoned(string binaries) =>
        ServerOwner.SweepAbandoned(Prefix, directory =>
        {
            var data = Path.Combine(directory, "data");
            try
            {
                if (File.Exists(Path.Combine(data, "postmaster.pid")))
                {
                    ServerOwner.RunAsOwner(Path.Combine(binaries, "pg_ctl"), "-D", data, "-m", "immediate", "-w", "stop");
                }
            }
            catch (InvalidOperationException)
            {
                // Not running after all (a stale pid file): the directory goes anyway.
            }
        });

    private const string Prefix = "commerce-pg-";

    private static int s_swept;

    /// <summary>Sweeps once per test process, before its first server starts.</summary>
    private static void SweepOnce(string binaries)
    {
        if (Interlocked.Exchange(ref s_swept, 1) == 0)
        {
            SweepAbandoned(binaries);
        }
    }
}
