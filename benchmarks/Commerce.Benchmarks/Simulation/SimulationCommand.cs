using System.Diagnostics;

namespace Commerce.Simulation;

/// <summary>The long configuration of the fault simulation, as a command: many seeds, many steps each.</summary>
internal static class SimulationCommand
{
    public static int Run(string[] args)
    {
        var first = args.Length > 0 ? int.Parse(args[0], System.Globalization.CultureInfo.InvariantCulture) : 1;
        var seeds = args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 20;
        var steps = args.Length > 2 ? int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture) : 20_000;
        var clock = Stopwatch.StartNew();
        long operations = 0, faults = 0, lateFinishes = 0, retries = 0, checks = 0;
        for (var seed = first; seed < first + seeds; seed++)
        {
            try
            {
                var report = new FaultSimulation(seed).Run(steps);
                Console.WriteLine(report);
                operations += report.Operations;
                faults += report.Faults;
                lateFinishes += report.LateFinishes;
                retries += report.Retries;
                checks += report.Checks;
            }
            catch (SimulationFailure failure)
            {
                Console.Error.WriteLine($"FAILED (replay with: simulate {seed} 1 {steps}): {failure.Message}");
                return 1;
            }
        }

        Console.WriteLine(
            $"{seeds} seeds × {steps:N0} steps in {clock.Elapsed.TotalSeconds:F1} s: {operations:N0} operations, {faults:N0} faults injected, " +
            $"{lateFinishes:N0} late finishes, {retries:N0} keyed retries, {checks:N0} invariant checks; nothing broken");
        return 0;
    }
}
