namespace Commerce.Postgres.Tests.Support;

/// <summary>
/// Finds the programs the throw-away servers need: PostgreSQL's <c>initdb</c> and <c>pg_ctl</c> (on
/// <c>PATH</c>, else in the newest <c>/usr/lib/postgresql/*/bin</c>, where Debian's packages put them
/// without adding them to <c>PATH</c>), and <c>pgbouncer</c> (on <c>PATH</c>, else in <c>/usr/sbin</c>,
/// which is not on an unprivileged user's <c>PATH</c>).
/// </summary>
internal static class ServerBinaries
{
    /// <summary>The directory holding both <c>initdb</c> and <c>pg_ctl</c>, or <see langword="null"/>.</summary>
    /// <param name="path">A <c>PATH</c>-style list of directories, searched first.</param>
    /// <param name="versionsRoot">A directory of version directories (<c>15/bin</c>, <c>16/bin</c>, …), searched newest first.</param>
    public static string? FindPostgres(string? path, string versionsRoot)
    {
        var versions = Directory.Exists(versionsRoot)
            ? Directory.GetDirectories(versionsRoot)
                .Select(dir => (Version: double.TryParse(Path.GetFileName(dir), System.Globalization.CultureInfo.InvariantCulture, out var v) ? v : -1, Bin: Path.Combine(dir, "bin")))
                .OrderByDescending(dir => dir.Version)
                .Select(dir => dir.Bin)
            : [];
        return DirectoriesOf(path).Concat(versions).FirstOrDefault(dir => IsProgram(dir, "initdb") && IsProgram(dir, "pg_ctl"));
    }

    /// <summary>The <c>pgbouncer</c> program, or <see langword="null"/>.</summary>
    /// <param name="path">A <c>PATH</c>-style list of directories, searched first.</param>
    /// <param name="fallback">Directories searched after <paramref name="path"/>.</param>
    public static string? FindPgBouncer(string? path, params string[] fallback) =>
        DirectoriesOf(path).Concat(fallback).Where(dir => IsProgram(dir, "pgbouncer")).Select(dir => Path.Combine(dir, "pgbouncer")).FirstOrDefault();

    /// <summary>Where this machine keeps PostgreSQL's server binaries, if anywhere.</summary>
    public static string? PostgresOnThisMachine() => FindPostgres(Environment.GetEnvironmentVariable("PATH"), "/usr/lib/postgresql");

    /// <summary>This machine's <c>pgbouncer</c>, if any.</summary>
    public static string? PgBouncerOnThisMachine() => FindPgBouncer(Environment.GetEnvironmentVariable("PATH"), "/usr/sbin", "/usr/local/sbin");

    private static IEnumerable<string> DirectoriesOf(string? path) =>
        (path ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    private static bool IsProgram(string directory, string name)
    {
        var file = Path.Combine(directory, name);
        return File.Exists(file) && (OperatingSystem.IsWindows() || (File.GetUnixFileMode(file) & (UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute)) != 0);
    }
}
