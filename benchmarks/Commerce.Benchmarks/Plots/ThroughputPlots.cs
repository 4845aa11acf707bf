using System.Globalization;
using ScottPlot;
using ScottPlot.TickGenerators;

namespace Commerce.Benchmarks.Plots;

/// <summary>
/// <c>plot [results-dir] [output-dir]</c>: draws operations per second against workers, one line per
/// implementation, from BenchmarkDotNet's CSV reports, as PNG files. A chart whose benchmark is not in the
/// results is skipped with a one-line message, so a partial run (no PostgreSQL server, a filter) still
/// draws what it measured.
/// </summary>
public static class ThroughputPlots
{
    /// <summary>
    /// A chart: the rows of one benchmark class with one value of one parameter. <paramref name="References"/> are the
    /// methods drawn dashed and first, with what they are (BenchmarkDotNet's baseline, or a ceiling).
    /// </summary>
    public sealed record Chart(string File, string Title, string Type, string Parameter, string Value, string YLabel, (string Method, string Note)[] References);

    private static readonly (string, string)[] InMemoryReferences = [("GlobalLock", "baseline"), ("HandWritten", "ceiling"), ("HandWrittenBufferedIds", "ceiling")];

    public static IReadOnlyList<Chart> Charts { get; } =
    [
        new("throughput-orders-low-contention.png", "Orders per second, low contention (in-memory stores)",
            "ConcurrentOrderBenchmarks", "Workload", "Low", "orders per second", InMemoryReferences),
        new("throughput-orders-hot-product.png", "Orders per second, one hot product (in-memory stores)",
            "ConcurrentOrderBenchmarks", "Workload", "HotProduct", "orders per second", InMemoryReferences),
        new("throughput-postgres-low-contention.png", "Orders per second on PostgreSQL, low contention",
            "PostgresOrderBenchmarks", "Mix", "LowContention", "orders per second", [("RowLockTransaction", "baseline")]),
        new("throughput-postgres-hot-product.png", "Orders per second on PostgreSQL, one hot product",
            "PostgresOrderBenchmarks", "Mix", "HotProduct", "orders per second", [("RowLockTransaction", "baseline")]),
    ];

    public static int Run(string[] args)
    {
        var results = args.Length > 0 ? args[0] : Path.Combine("BenchmarkDotNet.Artifacts", "results");
        var output = args.Length > 1 ? args[1] : DefaultOutput();
        if (!Directory.Exists(results))
        {
            Console.Error.WriteLine($"No results directory '{results}': run the benchmarks first, or name the directory that holds their *-report.csv files.");
            return 1;
        }

        var rows = BenchmarkCsv.ReadDirectory(results);
        Directory.CreateDirectory(output);
        var drawn = 0;
        foreach (var chart in Charts)
        {
            var path = Path.Combine(output, chart.File);
            var message = Draw(chart, rows, path);
            Console.WriteLine(message ?? $"wrote {path}");
            drawn += message is null ? 1 : 0;
        }

        Console.WriteLine($"{drawn} of {Charts.Count} charts drawn from {rows.Count} result row(s) in {results}.");
        return 0;
    }

    /// <summary>Draws one chart; returns why it was skipped, or <see langword="null"/> when it was written.</summary>
    public static string? Draw(Chart chart, IReadOnlyList<BenchmarkResult> rows, string path)
    {
        var selected = rows
            .Where(r => r.Type == chart.Type && r.Parameter(chart.Parameter) == chart.Value && Workers(r) is not null)
            .ToList();
        if (selected.Count == 0)
        {
            return $"skipped {chart.File}: no {chart.Type} results with {chart.Parameter}={chart.Value}";
        }

        var plot = new Plot();
        var jobs = selected.Select(r => r.Parameter("Job")).OfType<string>().Distinct().ToList();
        plot.Title(jobs.Count == 1 ? $"{chart.Title} (job {jobs[0]})" : chart.Title);
        plot.XLabel("workers");
        plot.YLabel(chart.YLabel);

        // Workers double from one case to the next: a log scale spaces them evenly, labelled with the counts.
        var workers = selected.Select(r => Workers(r)!.Value).Distinct().Order().ToArray();
        plot.Axes.Bottom.TickGenerator = new NumericManual(workers.Select(w => Math.Log2(w)).ToArray(), workers.Select(w => w.ToString(CultureInfo.InvariantCulture)).ToArray());
        plot.Axes.Left.TickGenerator = new NumericAutomatic { LabelFormatter = v => v.ToString("N0", CultureInfo.InvariantCulture) };

        var references = chart.References.ToDictionary(r => r.Method, r => r.Note);
        var methods = selected.Select(r => r.Method).Distinct()
            .OrderBy(m => Array.FindIndex(chart.References, r => r.Method == m) is var i && i >= 0 ? i : int.MaxValue)
            .ThenBy(m => m, StringComparer.Ordinal);
        var max = 0.0;
        foreach (var method in methods)
        {
            // One point per worker count; a case run twice (two jobs, two files) is averaged.
            var points = selected.Where(r => r.Method == method)
                .GroupBy(r => Workers(r)!.Value)
                .OrderBy(g => g.Key)
                .Select(g => (X: Math.Log2(g.Key), Y: g.Average(r => r.PerSecond)))
                .ToArray();
            var line = plot.Add.Scatter(points.Select(p => p.X).ToArray(), points.Select(p => p.Y).ToArray());
            line.LegendText = references.TryGetValue(method, out var note) ? $"{method} ({note})" : method;
            line.LineWidth = 2;
            line.MarkerSize = 8;
            if (note is not null)
            {
                line.LinePattern = LinePattern.Dashed;
            }

            max = Math.Max(max, points.Max(p => p.Y));
        }

        plot.Axes.SetLimitsX(Math.Log2(workers[0]) - 0.3, Math.Log2(workers[^1]) + 0.3);
        plot.Axes.SetLimitsY(0, max * 1.15);
        plot.ShowLegend(Edge.Right);
        plot.SavePng(path, 1000, 540);
        return null;
    }

    private static int? Workers(BenchmarkResult result) =>
        int.TryParse(result.Parameter("Workers"), NumberStyles.None, CultureInfo.InvariantCulture, out var workers) && workers > 0 ? workers : null;

    /// <summary>The benchmarks folder (next to its README) of the repository the command runs in, else the current directory.</summary>
    private static string DefaultOutput()
    {
        for (var dir = new DirectoryInfo(Directory.GetCurrentDirectory()); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Commerce.sln")))
            {
                return Path.Combine(dir.FullName, "benchmarks");
            }
        }

        return Directory.GetCurrentDirectory();
    }
}
