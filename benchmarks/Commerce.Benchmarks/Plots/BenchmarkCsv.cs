using System.Globalization;
using System.Text;

namespace Commerce.Benchmarks.Plots;

/// <summary>One case of a BenchmarkDotNet CSV report: its class, method, every column by name (the [Params] among them) and mean time per operation.</summary>
public sealed record BenchmarkResult(string Type, string Method, IReadOnlyDictionary<string, string> Parameters, double MeanSeconds)
{
    /// <summary>Operations per second: BenchmarkDotNet's Mean is per operation (it divides by <c>OperationsPerInvoke</c>).</summary>
    public double PerSecond => 1 / MeanSeconds;

    public string? Parameter(string name) => Parameters.TryGetValue(name, out var value) ? value : null;
}

/// <summary>
/// Reads BenchmarkDotNet's <c>*-report.csv</c> files (the default CSV exporter): a header row, then one row per
/// case; values may be quoted; the Mean carries its unit (<c>24.80 μs</c>, <c>1,033.2 μs</c>, <c>1.598 ms</c>).
/// The class comes from the <c>Type</c> column of a joined report, else from the file's name
/// (<c>Namespace.Class-report.csv</c>). Parameters are looked up by column name (<c>Workers</c>, <c>Workload</c>);
/// rows without a numeric mean (<c>NA</c>: a failed case) are left out.
/// </summary>
public static class BenchmarkCsv
{
    public static List<BenchmarkResult> ReadDirectory(string directory)
    {
        var results = new List<BenchmarkResult>();
        foreach (var file in Directory.EnumerateFiles(directory, "*-report.csv", SearchOption.TopDirectoryOnly).Order(StringComparer.Ordinal))
        {
            results.AddRange(Read(File.ReadAllText(file), TypeFromFileName(Path.GetFileName(file))));
        }

        return results;
    }

    /// <summary><c>Commerce.Benchmarks.ConcurrentOrderBenchmarks-report.csv</c> → <c>ConcurrentOrderBenchmarks</c>.</summary>
    public static string TypeFromFileName(string fileName)
    {
        var name = fileName.EndsWith("-report.csv", StringComparison.Ordinal) ? fileName[..^"-report.csv".Length] : Path.GetFileNameWithoutExtension(fileName);
        return name[(name.LastIndexOf('.') + 1)..];
    }

    public static List<BenchmarkResult> Read(string csv, string type)
    {
        var lines = csv.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (lines.Length == 0)
        {
            return [];
        }

        // The exporter writes ';' where the culture's decimal separator is ','.
        var separator = lines[0].Count(c => c == ';') > lines[0].Count(c => c == ',') ? ';' : ',';
        var header = Split(lines[0], separator);
        var method = header.IndexOf("Method");
        var mean = header.IndexOf("Mean");
        if (method < 0 || mean < 0)
        {
            return [];
        }

        var typeColumn = header.IndexOf("Type");
        var results = new List<BenchmarkResult>();
        foreach (var line in lines.Skip(1))
        {
            var cells = Split(line, separator);
            if (cells.Count != header.Count || !TryParseSeconds(cells[mean], separator, out var seconds) || seconds <= 0)
            {
                continue;
            }

            var parameters = new Dictionary<string, string>(StringComparer.Ordinal);
            for (var i = 0; i < header.Count; i++)
            {
                parameters.TryAdd(header[i], cells[i]);
            }

            results.Add(new BenchmarkResult(typeColumn >= 0 ? cells[typeColumn] : type, cells[method], parameters, seconds));
        }

        return results;
    }

    /// <summary>A time with its unit, as BenchmarkDotNet prints it: <c>1,033.2 μs</c> → 0.0010332.</summary>
    public static bool TryParseSeconds(string text, char separator, out double seconds)
    {
        seconds = 0;
        var parts = text.Trim().Split(' ', 2, StringSplitOptions.TrimEntries);
        if (parts.Length != 2)
        {
            return false;
        }

        // With ',' between cells, ',' inside a number groups thousands; with ';', it is the decimal separator.
        var number = separator == ';'
            ? parts[0].Replace(".", "", StringComparison.Ordinal).Replace(',', '.')
            : parts[0].Replace(",", "", StringComparison.Ordinal);
        if (!double.TryParse(number, NumberStyles.Float, CultureInfo.InvariantCulture, out var value))
        {
            return false;
        }

        double? scale = parts[1] switch
        {
            "ns" => 1e-9,
            "μs" or "µs" or "us" => 1e-6,
            "ms" => 1e-3,
            "s" => 1,
            _ => null,
        };
        if (scale is null)
        {
            return false;
        }

        seconds = value * scale.Value;
        return true;
    }

    /// <summary>Splits one CSV row; a quoted cell may hold the separator, and "" is a quote.</summary>
    private static List<string> Split(string line, char separator)
    {
        var cells = new List<string>();
        var cell = new StringBuilder();
        var quoted = false;
        for (var i = 0; i < line.Length; i++)
        {
            var c = line[i];
            if (quoted)
            {
                if (c == '"' && i + 1 < line.Length && line[i + 1] == '"')
                {
                    cell.Append('"');
                    i++;
                }
                else if (c == '"')
                {
                    quoted = false;
                }
                else
                {
                    cell.Append(c);
                }
            }
            else if (c == '"')
            {
                quoted = true;
            }
            else if (c == separator)
            {
                cells.Add(cell.ToString());
                cell.Clear();
            }
            else
            {
                cell.Append(c);
            }
        }

        cells.Add(cell.ToString());
        return cells;
    }
}
