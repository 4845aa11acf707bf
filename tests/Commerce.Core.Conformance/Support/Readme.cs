using System.Diagnostics.Metrics;
using System.Reflection;
using Microsoft.Extensions.Logging;

namespace Commerce.Conformance;

/// <summary>
/// The repository's READMEs as tests read them: a section under a heading and the rows of its first table, and
/// the log events an assembly defines, so that a test can hold a README's tables to the code they describe.
/// </summary>
public static class Readme
{
    /// <summary>The text of a README, by its path from the repository's root (<c>src/Commerce.Core.Hosting/README.md</c>).</summary>
    /// <param name="relativePath">The path from the repository's root, with forward slashes.</param>
    /// <exception cref="InvalidOperationException">No directory above the test's output holds the path.</exception>
    public static string Text(string relativePath)
    {
        ArgumentNullException.ThrowIfNull(relativePath);
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            var path = Path.Combine(directory.FullName, relativePath);
            if (File.Exists(path) && File.Exists(Path.Combine(directory.FullName, "Commerce.sln")))
            {
                return File.ReadAllText(path).ReplaceLineEndings("\n");
            }
        }

        throw new InvalidOperationException($"No directory above {AppContext.BaseDirectory} holds Commerce.sln and {relativePath}.");
    }

    /// <summary>
    /// The section that starts at the line <paramref name="heading"/> (<c>## Logging</c>), up to the next heading of the
    /// same or a higher level.
    /// </summary>
    /// <param name="relativePath">The README's path from the repository's root.</param>
    /// <param name="heading">The heading's whole line.</param>
    /// <exception cref="InvalidOperationException">The README has no such heading.</exception>
    public static string Section(string relativePath, string heading)
    {
        ArgumentNullException.ThrowIfNull(heading);
        var lines = Text(relativePath).Split('\n');
        var start = Array.IndexOf(lines, heading);
        if (start < 0)
        {
            throw new InvalidOperationException($"{relativePath} has no line '{heading}'.");
        }

        var level = heading.TakeWhile(c => c == '#').Count();
        var end = start + 1;
        var inCode = false;
        for (; end < lines.Length; end++)
        {
            inCode ^= lines[end].StartsWith("```", StringComparison.Ordinal);
            var hashes = lines[end].TakeWhile(c => c == '#').Count();
            if (!inCode && hashes > 0 && hashes <= level && lines[end].Length > hashes && lines[end][hashes] == ' ')
            {
                break;
            }
        }

        return string.Join('\n', lines[start..end]);
    }

    /// <summary>
    /// The body rows of the first table in the section under <paramref name="heading"/>, each cell trimmed and
    /// stripped of the backticks around code.
    /// </summary>
    /// <param name="relativePath">The README's path from the repository's root.</param>
    /// <param name="heading">The heading's whole line.</param>
    /// <exception cref="InvalidOperationException">The section has no table.</exception>
    public static IReadOnlyList<string[]> Table(string relativePath, string heading)
    {
        var table = Section(relativePath, heading).Split('\n')
            .SkipWhile(line => !line.StartsWith('|'))
            .TakeWhile(line => line.StartsWith('|'))
            .ToList();
        if (table.Count < 2)
        {
            throw new InvalidOperationException($"The section '{heading}' of {relativePath} has no table.");
        }

        return [.. table.Skip(2).Select(row => row.Trim().Trim('|').Split('|').Select(cell => cell.Trim().Replace("`", "", StringComparison.Ordinal)).ToArray())];
    }

    /// <summary>Every <see cref="LoggerMessageAttribute"/> an assembly defines, as id, name and level, in id order.</summary>
    /// <param name="assembly">The assembly.</param>
    public static IReadOnlyList<(int Id, string Name, string Level)> LogEvents(Assembly assembly)
    {
        ArgumentNullException.ThrowIfNull(assembly);
        return [.. assembly.GetTypes()
            .SelectMany(t => t.GetMethods(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static | BindingFlags.DeclaredOnly))
            .Select(m => m.GetCustomAttribute<LoggerMessageAttribute>())
            .OfType<LoggerMessageAttribute>()
            .Select(a => (a.EventId, a.EventName ?? "", a.Level.ToString()))
            .OrderBy(e => e.EventId)];
    }

    /// <summary>
    /// The instruments <paramref name="create"/> makes on <paramref name="factory"/>'s meters, as a README's instrument
    /// table lists them: name, kind (<c>counter</c>, <c>histogram</c>) and unit, in order.
    /// </summary>
    public static IReadOnlyList<(string Name, string Kind, string Unit)> Instruments(IMeterFactory factory, Action<IMeterFactory> create)
    {
        var published = new List<Instrument>();
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, _) =>
            {
                if (instrument.Meter.Scope == factory)
                {
                    published.Add(instrument);
                }
            },
        };
        listener.Start();
        create(factory);
        return [.. published.Select(i => (i.Name, KindOf(i), i.Unit ?? "")).Order()];
    }

    private static string KindOf(Instrument instrument) =>
        instrument.GetType().GetGenericTypeDefinition() == typeof(Counter<>) ? "counter"
        : instrument.GetType().GetGenericTypeDefinition() == typeof(Histogram<>) ? "histogram"
        : instrument.GetType().Name;
}
