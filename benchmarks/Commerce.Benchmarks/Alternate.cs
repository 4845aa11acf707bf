using System.Diagnostics;
using System.Globalization;

namespace Commerce.Benchmarks;

/// <summary>
/// Two sets of BenchmarkDotNet cases measured in alternating processes (A B, B A, A B…), each process one
/// launch of one set, so that what the machine does over minutes falls on both alike. BenchmarkDotNet runs
/// every launch of one case before the next case, so on a machine whose speed drifts by a quarter over a few
/// minutes (this one's does) a ratio between cases measures the drift as much as the code. It prints each
/// launch's mean per case, and for each case of A paired with B's case of the same parameters: the ratio of
/// the means over all rounds, the median of the rounds' ratios, and in how many rounds B took longer.
/// </summary>
/// <remarks>
/// The cases of each set are given as a BenchmarkDotNet filter (for example
/// <c>*EventOrderBenchmarks.WithoutEvents*</c>); each process runs them in process (BenchmarkDotNet's
/// <c>--inProcess</c>), started with the server garbage collector as every benchmark here runs, unless
/// <c>--out-of-process</c> is given (then each process starts BenchmarkDotNet's own, one launch).
/// Further options go to BenchmarkDotNet as they are (for example <c>--iterationCount 20 --warmupCount 10</c>).
/// A set's filter may name another build's benchmarks: <c>path/to/Commerce.Benchmarks.dll=filter</c>.
/// </remarks>
internal static class Alternate
{
    public static int Run(string[] args)
    {
        if (args.Length < 3 || !int.TryParse(args[0], CultureInfo.InvariantCulture, out var rounds) || rounds < 1)
        {
            Console.Error.WriteLine("usage: alternate <rounds> <[build.dll=]filter-A> <[build.dll=]filter-B> [--out-of-process] [BenchmarkDotNet options]");
            return 2;
        }

        var outOfProcess = args.Contains("--out-of-process");
        var options = args[3..].Where(a => a != "--out-of-process").ToArray();
        var sets = new[] { Set.Parse(args[1]), Set.Parse(args[2]) };
        var means = new[] { new Dictionary<string, List<double>>(), new Dictionary<string, List<double>>() };
        for (var round = 0; round < rounds; round++)
        {
            // A B, then B A: a drift within a round falls on each set first as often as second.
            foreach (var s in round % 2 == 0 ? new[] { 0, 1 } : [1, 0])
            {
                foreach (var (name, mean) in Measure(sets[s], options, outOfProcess))
                {
                    (means[s].TryGetValue(name, out var list) ? list : means[s][name] = []).Add(mean);
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"round {round + 1} {(s == 0 ? "A" : "B")} {name}: {mean / 1000:F3} us"));
                }
            }
        }

        foreach (var (nameA, a) in means[0])
        {
            // B's case of the same parameters (where one names a parameter the other does not have, the
            // others decide: Workload=Low,Workers=2 goes with Workers=2); or, if each set is one case, that one.
            var key = ParametersOf(nameA);
            var match = means[1].FirstOrDefault(m => ParametersOf(m.Key) is var other && (other.IsSubsetOf(key) || key.IsSubsetOf(other)));
            if (match.Key is null && means[0].Count == 1 && means[1].Count == 1)
            {
                match = means[1].First();
            }

            if (match.Key is null || match.Value.Count != a.Count)
            {
                continue;
            }

            var b = match.Value;
            var ratios = a.Zip(b, (x, y) => y / x).Order().ToArray();
            var median = ratios.Length % 2 == 1 ? ratios[ratios.Length / 2] : (ratios[(ratios.Length / 2) - 1] + ratios[ratios.Length / 2]) / 2;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{match.Key} against {nameA}: time {b.Average() / 1000:F3} against {a.Average() / 1000:F3} us per operation, ratio {b.Average() / a.Average():F3}, median round ratio {median:F3}, B slower in {ratios.Count(r => r > 1)} of {ratios.Length} rounds"));
            Console.WriteLine($"  launches A: {string.Join(' ', a.Select(m => (m / 1000).ToString("F2", CultureInfo.InvariantCulture)))}");
            Console.WriteLine($"  launches B: {string.Join(' ', b.Select(m => (m / 1000).ToString("F2", CultureInfo.InvariantCulture)))}");
        }

        return 0;
    }

    /// <summary>The parameters of a case, from its name (<c>Method[Name=value,…]</c>): cases of A and B with the same parameters are compared.</summary>
    private static HashSet<string> ParametersOf(string name) =>
        [.. name[(name.IndexOf('[', StringComparison.Ordinal) + 1)..^1].Split(',', StringSplitOptions.RemoveEmptyEntries)];

    private static IEnumerable<(string Name, double Mean)> Measure(Set set, string[] options, bool outOfProcess)
    {
        // Started in the build's folder: out of process, BenchmarkDotNet finds the project to build from there.
        var start = new ProcessStartInfo(Environment.ProcessPath!)
        {
            RedirectStandardOutput = true,
            UseShellExecute = false,
            WorkingDirectory = Path.GetDirectoryName(set.Assembly)!,
        };
        start.ArgumentList.Add(set.Assembly);
        foreach (var argument in (string[])["--filter", set.Filter, outOfProcess ? "--launchCount" : "--inProcess", .. outOfProcess ? ["1"] : Array.Empty<string>(), .. options])
        {
            start.ArgumentList.Add(argument);
        }

        if (!outOfProcess && !options.Contains("--workstation-gc"))
        {
            start.Environment["DOTNET_gcServer"] = "1"; // in process, the collector is the process's: chosen at its start
        }

        using var process = Process.Start(start)!;
        var measured = new List<(string, double)>();
        string[]? header = null;
        var last = new Queue<string>();
        while (process.StandardOutput.ReadLine() is { } line)
        {
            last.Enqueue(line);
            if (last.Count > 20)
            {
                last.Dequeue();
            }

            // The summary table BenchmarkDotNet prints last (any build's): | Method | parameters… | Mean | Error | …
            var cells = line.StartsWith('|') ? line.Trim('|').Split('|').Select(c => c.Trim()).ToArray() : null;
            if (cells is ["Method", ..] && cells.Contains("Mean"))
            {
                header = cells;
            }
            else if (header is not null && cells is not null && cells.Length == header.Length && cells[0].Length > 0 && !cells[0].StartsWith('-')
                && MeanOf(cells[Array.IndexOf(header, "Mean")]) is { } mean)
            {
                var parameters = header.Skip(1).TakeWhile(h => h != "Mean").Select((h, i) => $"{h}={cells[i + 1]}");
                measured.Add(($"{cells[0]}[{string.Join(',', parameters)}]", mean));
            }
        }

        process.WaitForExit();
        if (process.ExitCode != 0 || measured.Count == 0)
        {
            throw new InvalidOperationException(
                $"The run of '{set.Filter}' in {set.Assembly} failed (exit code {process.ExitCode}, {measured.Count} cases measured); it ended with:{Environment.NewLine}{string.Join(Environment.NewLine, last)}");
        }

        return measured;
    }

    /// <summary>A mean as the summary prints it (<c>2.962 us</c>), in nanoseconds; <see langword="null"/> if it is not one.</summary>
    private static double? MeanOf(string text)
    {
        var parts = text.Replace(",", string.Empty, StringComparison.Ordinal).Split(' ');
        if (parts.Length != 2 || !double.TryParse(parts[0], NumberStyles.Float, CultureInfo.InvariantCulture, out var value))
        {
            return null;
        }

        return parts[1] switch
        {
            "ns" => value,
            "us" or "μs" => value * 1e3,
            "ms" => value * 1e6,
            "s" => value * 1e9,
            _ => null,
        };
    }

    /// <summary>A set of cases: the benchmarks assembly that has them (this one unless named) and their filter.</summary>
    private readonly record struct Set(string Assembly, string Filter)
    {
        public static Set Parse(string text) =>
            text.IndexOf(".dll=", StringComparison.Ordinal) is var at and >= 0
                ? new Set(Path.GetFullPath(text[..(at + 4)]), text[(at + 5)..])
                : new Set(typeof(Alternate).Assembly.Location, text);
    }
}
