using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Npgsql;

namespace Commerce.Benchmarks.Postgres;

/// <summary>
/// The server's own yardstick: PostgreSQL's <c>pgbench</c> TPC-B-like transactions per second on the server
/// <c>COMMERCE_POSTGRES</c> names, in a scratch database created for the run and dropped after it.
/// <c>pgbench [--clients 16] [--threads 2] [--seconds 20] [--scale 10] [--prepared]</c>.
/// </summary>
/// <remarks>
/// Each TPC-B transaction is five statements in an interactive transaction (three updates, a select and
/// an insert: about seven round trips with BEGIN and END); by default they go as simple queries, the
/// figure pgbench is usually quoted with; <c>--prepared</c> uses prepared statements (<c>-M prepared</c>),
/// as the store's own data source does.
/// </remarks>
internal static partial class PgBench
{
    private const string Database = "commerce_pgbench";

    public static int Run(string[] args)
    {
        var clients = Option(args, "--clients", 16);
        var threads = Option(args, "--threads", 2);
        var seconds = Option(args, "--seconds", 20);
        var scale = Option(args, "--scale", 10);
        var protocol = args.Contains("--prepared") ? "prepared" : "simple";
        var pgbench = FindPgBench();
        var server = new NpgsqlConnectionStringBuilder(BenchDatabase.ConnectionString);

        Execute(server, $"DROP DATABASE IF EXISTS {Database}");
        Execute(server, $"CREATE DATABASE {Database}");
        try
        {
            Console.WriteLine($"// pgbench: {pgbench}; initialising scale {scale} in {Database} on {server.Host}:{server.Port}");
            RunPgBench(pgbench, server, $"-i -q -s {scale} {Database}");
            var output = RunPgBench(pgbench, server, $"-n -M {protocol} -c {clients} -j {threads} -T {seconds} {Database}");
            Console.Write(output);
            var tps = Tps().Match(output);
            if (!tps.Success)
            {
                Console.Error.WriteLine("pgbench printed no tps line.");
                return 1;
            }

            Console.WriteLine(
                $"// pgbench TPC-B: clients={clients} threads={threads} seconds={seconds} scale={scale} protocol={protocol} " +
                $"tps={double.Parse(tps.Groups[1].Value, CultureInfo.InvariantCulture):F0}");
            return 0;
        }
        finally
        {
            Execute(server, $"DROP DATABASE IF EXISTS {Database} WITH (FORCE)");
        }
    }

    /// <summary><c>pgbench</c> on the PATH, else the newest one under <c>/usr/lib/postgresql/*/bin</c>.</summary>
    private static string FindPgBench()
    {
        foreach (var directory in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Combine(directory, "pgbench");
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        const string Installed = "/usr/lib/postgresql";
        var found = Directory.Exists(Installed)
            ? Directory.GetDirectories(Installed)
                .Select(d => (Version: int.TryParse(Path.GetFileName(d), out var v) ? v : -1, Path: Path.Combine(d, "bin", "pgbench")))
                .Where(c => File.Exists(c.Path))
                .OrderByDescending(c => c.Version)
                .Select(c => c.Path)
                .FirstOrDefault()
            : null;
        return found ?? throw new InvalidOperationException(
            "pgbench is neither on the PATH nor under /usr/lib/postgresql/*/bin; install PostgreSQL's client tools (e.g. apt-get install postgresql).");
    }

    /// <summary>Runs <c>pgbench</c> with <paramref name="arguments"/> on the database of <paramref name="connectionString"/>; its output.</summary>
    internal static string RunPgBench(string connectionString, string arguments)
    {
        var server = new NpgsqlConnectionStringBuilder(connectionString);
        return RunPgBench(FindPgBench(), server, $"{arguments} {server.Database ?? "postgres"}");
    }

    private static string RunPgBench(string pgbench, NpgsqlConnectionStringBuilder server, string arguments)
    {
        var start = new ProcessStartInfo(pgbench, $"-h {server.Host} -p {server.Port} -U {server.Username} {arguments}")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (!string.IsNullOrEmpty(server.Password))
        {
            start.Environment["PGPASSWORD"] = server.Password;
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException("pgbench did not start.");
        var error = process.StandardError.ReadToEndAsync();
        var output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"pgbench {arguments} exited with {process.ExitCode}: {error.GetAwaiter().GetResult()}");
        }

        return output;
    }

    private static void Execute(NpgsqlConnectionStringBuilder server, string sql)
    {
        var maintenance = new NpgsqlConnectionStringBuilder(server.ConnectionString) { Database = "postgres", Pooling = false };
        using var connection = new NpgsqlConnection(maintenance.ConnectionString);
        connection.Open();
        using var command = new NpgsqlCommand(sql, connection);
        command.ExecuteNonQuery();
    }

    internal static int Option(string[] args, string name, int fallback)
    {
        var at = Array.IndexOf(args, name);
        return at >= 0 && at + 1 < args.Length ? int.Parse(args[at + 1], CultureInfo.InvariantCulture) : fallback;
    }

    [GeneratedRegex(@"tps = ([0-9.]+) \(without initial connection time\)")]
    internal static partial Regex Tps();
}
