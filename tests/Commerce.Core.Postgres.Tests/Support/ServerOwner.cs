using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Commerce.Postgres.Tests.Support;

/// <summary>
/// Runs the throw-away servers' programs as an unprivileged user: <c>initdb</c> and <c>pgbouncer</c>
/// refuse to run as root, so under root they run as <c>postgres</c> (through <c>runuser</c>; the user is
/// created, as <c>.ci/postgres.sh</c> does, if the machine lacks it), and otherwise as the current user.
/// </summary>
internal static class ServerOwner
{
    private const string UnprivilegedUser = "postgres";

    private static readonly Lazy<bool> Root = new(() => Run("id", "-u").Trim() == "0");

    /// <summary>Whether the tests run as root, so that the servers run as <c>postgres</c>.</summary>
    public static bool IsRoot => Root.Value;

    /// <summary>The user to name where a program can switch users itself (pgbouncer's <c>-u</c>), or <see langword="null"/> to stay.</summary>
    public static string? SwitchTo => IsRoot ? UnprivilegedUser : null;

    /// <summary>The file in a server's directory that names the test process that started it.</summary>
    public const string OwnerFile = "owner";

    /// <summary>This process, as an owner file names it: its id and start time (an id alone can be reused).</summary>
    public static string ThisProcess { get; } = Describe(Process.GetCurrentProcess());

    /// <summary>A new private directory under the temp directory, owned by the servers' user and naming this process as its owner.</summary>
    public static string CreateDirectory(string prefix)
    {
        var directory = Directory.CreateTempSubdirectory(prefix).FullName; // mode 700
        File.WriteAllText(Path.Combine(directory, OwnerFile), ThisProcess);
        if (IsRoot)
        {
            EnsureUser();
            Run("chown", UnprivilegedUser + ":", directory);
        }

        return directory;
    }

    /// <summary>
    /// The directories under the temp directory made by <see cref="CreateDirectory"/> with <paramref name="prefix"/>
    /// whose owner process is gone: a test run that was killed left them, and maybe a server running in them.
    /// A directory without an owner file is left alone (it may be being made right now).
    /// </summary>
    public static IEnumerable<string> Abandoned(string prefix)
    {
        foreach (var directory in Directory.EnumerateDirectories(Path.GetTempPath(), prefix + "*"))
        {
            string owner;
            try
            {
                owner = File.ReadAllText(Path.Combine(directory, OwnerFile));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                continue; // no owner file yet, or another user's directory
            }

            if (!IsRunning(owner))
            {
                yield return directory;
            }
        }
    }

    /// <summary>
    /// Stops what runs in each <see cref="Abandoned"/> directory with <paramref name="prefix"/> (with
    /// <paramref name="stop"/>, which may find nothing running) and deletes the directory; returns how many
    /// directories it removed.
    /// </summary>
    public static int SweepAbandoned(string prefix, Action<string> stop)
    {
        var removed = 0;
        foreach (var directory in Abandoned(prefix))
        {
            stop(directory);
            try
            {
                Directory.Delete(directory, recursive: true);
                removed++;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Another process sweeping at the same time got there first.
            }
        }

        return removed;
    }

    /// <summary>
    /// Whether the process an owner file names still runs: a process with its id that started within a second
    /// of its start time. (A process's start time is computed from the boot time each time it is asked for,
    /// which moves by a few microseconds from one call to the next: compared exactly, another test run on the
    /// machine would take this one's servers for abandoned, and stop them under it.)
    /// </summary>
    public static bool IsRunning(string owner)
    {
        if (owner.Split(' ') is not [var id, var started]
            || !int.TryParse(id, out var pid)
            || !long.TryParse(started, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var startedTicks))
        {
            return false;
        }

        try
        {
            using var process = Process.GetProcessById(pid);
            return Math.Abs(process.StartTime.ToUniversalTime().Ticks - startedTicks) < TimeSpan.TicksPerSecond;
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException)
        {
            return false; // no such process (or it just exited)
        }
    }

    /// <summary>A process as an owner file names it: its id and start time.</summary>
    public static string Describe(Process process) =>
        string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{process.Id} {process.StartTime.ToUniversalTime().Ticks}");

    /// <summary>Runs a program as the servers' user, waits for it, and returns its output; throws with its output if it fails.</summary>
    public static string RunAsOwner(string program, params string[] arguments) =>
        IsRoot ? Run("runuser", ["-u", UnprivilegedUser, "--", program, .. arguments]) : Run(program, arguments);

    /// <summary>A loopback port nobody listens on now.</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>Runs a program, waits for it, and returns its standard output; throws with all its output if it fails.</summary>
    public static string Run(string program, params string[] arguments)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {program}.");
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"`{program} {string.Join(' ', arguments)}` exited with {process.ExitCode}:\n{output.Result}{errors.Result}");
        }

        return output.Result;
    }

    private static void EnsureUser()
    {
        try
        {
            Run("id", UnprivilegedUser);
        }
        catch (InvalidOperationException)
        {
            Run("useradd", "--system", "--no-create-home", "--shell", "/bin/bash", UnprivilegedUser);
        }
    }
}
