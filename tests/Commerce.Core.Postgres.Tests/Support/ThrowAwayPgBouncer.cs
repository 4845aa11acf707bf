using System.Diagnostics;
using System.Text;
using Npgsql;

namespace Commerce.Postgres.Tests.Support;

/// <summary>
/// PgBouncer in transaction-pooling mode in front of a server, for the tests only: a configuration in a
/// new temp directory, <c>pgbouncer</c> in the foreground on a free loopback port (as the unprivileged
/// user when the tests run as root: it refuses root), ready once it logs <c>process up</c>; on disposal
/// the process is killed and the directory deleted. Every client database name maps to the same name
/// on the server, logged in as the server's user (<c>auth_type = any</c>).
/// </summary>
internal sealed class ThrowAwayPgBouncer : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _log;
    private bool _stopped;

    private ThrowAwayPgBouncer(Process process, StringBuilder log, string directory, string connectionString)
    {
        _process = process;
        _log = log;
        Directory = directory;
        ConnectionString = connectionString;
    }

    /// <summary>The temp directory holding the configuration.</summary>
    public string Directory { get; }

    /// <summary>
    /// The connection string through PgBouncer, with <c>No Reset On Close</c> (Npgsql's <c>DISCARD ALL</c> on
    /// returning a connection would reset whichever server connection PgBouncer picks) and <c>Max Auto
    /// Prepare=0</c> (PgBouncer before 1.21 cannot route prepared statements in transaction pooling).
    /// </summary>
    public string ConnectionString { get; }

    /// <summary>Starts PgBouncer in front of the server <paramref name="upstreamConnectionString"/> names; returns once it listens.</summary>
    /// <param name="program">The <c>pgbouncer</c> program.</param>
    /// <param name="upstreamConnectionString">The server, and the user and password PgBouncer logs in with.</param>
    /// <param name="poolSize">Server connections per database and user (<c>default_pool_size</c>).</param>
    public static ThrowAwayPgBouncer Start(string program, string upstreamConnectionString, int poolSize = 20)
    {
        var upstream = new NpgsqlConnectionStringBuilder(upstreamConnectionString);
        SweepOnce();
        var directory = ServerOwner.CreateDirectory(Prefix);
        var port = ServerOwner.FreePort();
        var password = string.IsNullOrEmpty(upstream.Password) ? "" : $" password={upstream.Password}";
        var config = Path.Combine(directory, "pgbouncer.ini");
        File.WriteAllText(config, $"""
            [databases]
            * = host={upstream.Host ?? "127.0.0.1"} port={upstream.Port} user={upstream.Username ?? "postgres"}{password}

            [pgbouncer]
            listen_addr = 127.0.0.1
            listen_port = {port}
            unix_socket_dir =
            auth_type = any
            pool_mode = transaction
            default_pool_size = {poolSize}
            max_client_conn = 1000
            log_connections = 0
            log_disconnections = 0
            """);

        var start = new ProcessStartInfo(program) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        if (ServerOwner.SwitchTo is { } user)
        {
            start.ArgumentList.Add("-u");
            start.ArgumentList.Add(user);
        }

        start.ArgumentList.Add(config);
        var log = new StringBuilder();
        var up = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var process = new Process { StartInfo = start, EnableRaisingEvents = true };
        process.ErrorDataReceived += (_, line) =>
        {
            lock (log)
            {
                log.AppendLine(line.Data);
            }

            if (line.Data?.Contains("process up", StringComparison.Ordinal) == true)
            {
                up.TrySetResult();
            }
        };
        process.OutputDataReceived += (_, _) => { };
        process.Exited += (_, _) => up.TrySetException(new InvalidOperationException($"pgbouncer exited with {process.ExitCode}:\n{Text(log)}"));
        var bouncer = new ThrowAwayPgBouncer(process, log, directory, new NpgsqlConnectionStringBuilder(upstreamConnectionString)
        {
            Host = "127.0.0.1",
            Port = port,
            NoResetOnClose = true,
            MaxAutoPrepare = 0, // PgBouncer before 1.21 keeps no prepared statements in transaction pooling
        }.ConnectionString);
        try
        {
            process.Start();
            File.WriteAllText(Path.Combine(directory, ProcessFile), ServerOwner.Describe(process)); // for the sweep, if this run is killed
            process.BeginErrorReadLine(); // read for as long as it runs, so that it never blocks on a full pipe
            process.BeginOutputReadLine();

            // The bound only turns a hang into a failure; readiness is the log line, not the time.
            if (!up.Task.Wait(TimeSpan.FromMinutes(1)))
            {
                throw new InvalidOperationException($"pgbouncer did not start:\n{Text(log)}");
            }

            return bouncer;
        }
        catch
        {
            bouncer.Dispose();
            throw;
        }
    }

    private const string Prefix = "commerce-pgbouncer-";
    private const string ProcessFile = "pgbouncer.process";

    private static int s_swept;

    /// <summary>
    /// Kills the PgBouncers that killed test runs left behind (their owner process is gone: see
    /// <see cref="ServerOwner.Abandoned"/>) and deletes their directories; returns how many directories it removed.
    /// </summary>
    public static int SweepAbandoned() =>
        ServerOwner.SweepAbandoned(Prefix, directory =>
        {
            try
            {
                var running = File.ReadAllText(Path.Combine(directory, ProcessFile));
                if (ServerOwner.IsRunning(running))
                {
                    using var process = Process.GetProcessById(int.Parse(running.Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture));
                    process.Kill();
                    process.WaitForExit();
                }
            }
            catch (Exception e) when (e is IOException or ArgumentException or InvalidOperationException or System.ComponentModel.Win32Exception)
            {
                // Never started, or gone already.
            }
        });

    private static void SweepOnce()
    {
        if (Interlocked.Exchange(ref s_swept, 1) == 0)
        {
            SweepAbandoned();
        }
    }

    /// <summary>What PgBouncer logged so far.</summary>
    public string Log => Text(_log);

    /// <summary>Stops PgBouncer (its clients' connections break) and deletes its directory.</summary>
    public void Dispose()
    {
        if (_stopped)
        {
            return;
        }

        _stopped = true;
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill();
                _process.WaitForExit();
            }
        }
        catch (InvalidOperationException)
        {
            // Never started.
        }
        finally
        {
            _process.Dispose();
            System.IO.Directory.Delete(Directory, recursive: true);
        }
    }

    private static string Text(StringBuilder log)
    {
        lock (log)
        {
            return log.ToString();
        }
    }
}
