using Commerce.Postgres.Tests.Support;
using Xunit.Abstractions;

namespace Commerce.Postgres.Tests.Simulation;

/// <summary>
/// The short configuration (the long one: <see cref="Many_seeded_runs_named_by_the_environment_lose_nothing_and_apply_nothing_twice"/>) of the seeded fault simulation of the PostgreSQL store (each run on a server of
/// its own): backends terminated, connections dropped before and after the server received a commit, a
/// server restart, clients retrying with their keys or reading, the whole shop checked as it goes.
/// </summary>
public sealed class PostgresFaultSimulationTests(ITestOutputHelper output)
{
    [PostgresFact(NeedsServerBinaries = true)]
    public Task A_seeded_run_with_faults_around_commits_loses_nothing_and_applies_nothing_twice() => RunAsync(101);

    [PostgresFact(NeedsServerBinaries = true)]
    public Task Another_seeded_run_with_faults_around_commits_loses_nothing_and_applies_nothing_twice() => RunAsync(202);

    [PostgresFact(NeedsServerBinaries = true)]
    public async Task The_same_seed_replays_the_same_run()
    {
        PostgresSimulationReport first, second;
        await using (var simulation = PostgresFaultSimulation.Create(7))
        {
            first = await simulation.RunAsync(120);
        }

        await using (var simulation = PostgresFaultSimulation.Create(7))
        {
            second = await simulation.RunAsync(120);
        }

        output.WriteLine(first.ToString());
        Assert.True(first.Faults > 3, first.ToString());
        Assert.Equal(first, second);
    }

    [PostgresFact(NeedsServerBinaries = true)]
    public async Task Clients_that_forget_their_requests_in_doubt_are_caught()
    {
        await using var simulation = PostgresFaultSimulation.Create(101, faultRate: 0.3, forgetful: true);

        var failure = await Assert.ThrowsAsync<PostgresSimulationFailure>(() => simulation.RunAsync(200));

        output.WriteLine(failure.Message);
        Assert.StartsWith("seed 101, step ", failure.Message, StringComparison.Ordinal);
    }

    /// <summary>
    /// The long configuration, run only when <c>COMMERCE_PG_SIMULATION_SEEDS</c> names seeds (<c>1-20</c>, or
    /// <c>5,9,12</c>); <c>COMMERCE_PG_SIMULATION_STEPS</c> sets the steps of each run (2,000 unless set). Every
    /// seed runs, on a server of its own; the failures are reported together, each with its seed.
    /// </summary>
    [LongSimulationFact]
    public async Task Many_seeded_runs_named_by_the_environment_lose_nothing_and_apply_nothing_twice()
    {
        var steps = int.TryParse(Environment.GetEnvironmentVariable(LongSimulationFactAttribute.StepsVariable), out var n) ? n : 2_000;
        var failures = new List<string>();
        foreach (var seed in LongSimulationFactAttribute.Seeds())
        {
            await using var simulation = PostgresFaultSimulation.Create(seed);
            try
            {
                output.WriteLine((await simulation.RunAsync(steps)).ToString());
            }
            catch (PostgresSimulationFailure e)
            {
                output.WriteLine(e.Message);
                failures.Add(e.Message);
            }
        }

        Assert.True(failures.Count == 0, string.Join("\n\n", failures));
    }

    private async Task RunAsync(int seed)
    {
        await using var simulation = PostgresFaultSimulation.Create(seed);

        var report = await simulation.RunAsync(300);

        output.WriteLine(report.ToString());
        Assert.Equal(1, report.Restarts);
        Assert.True(report.Terminations > 0 && report.DropsBeforeSend > 0 && report.DropsAfterReceipt > 0, report.ToString());
        Assert.True(report.ClientFaults > 5 && report.Retries > 5, report.ToString());
        Assert.True(report.Checks >= 4, report.ToString());
    }
}

/// <summary>
/// A fact that runs only when <c>COMMERCE_PG_SIMULATION_SEEDS</c> names the seeds of a long simulation, and
/// then as a <see cref="PostgresFactAttribute"/> that starts servers of its own.
/// </summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class LongSimulationFactAttribute : FactAttribute
{
    public const string SeedsVariable = "COMMERCE_PG_SIMULATION_SEEDS";
    public const string StepsVariable = "COMMERCE_PG_SIMULATION_STEPS";

    public LongSimulationFactAttribute()
    {
        if (string.IsNullOrWhiteSpace(Environment.GetEnvironmentVariable(SeedsVariable)))
        {
            Skip = $"The long PostgreSQL fault simulation runs when {SeedsVariable} names seeds (e.g. 1-20).";
        }
        else if (!TestDatabase.UnderCi && ServerBinaries.PostgresOnThisMachine() is null)
        {
            Skip = TestDatabase.SkipReasonFor(null, null);
        }
    }

    /// <summary>The seeds the variable names: ranges (<c>1-20</c>) and single seeds, separated by commas.</summary>
    public static IEnumerable<int> Seeds()
    {
        foreach (var part in (Environment.GetEnvironmentVariable(SeedsVariable) ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var bounds = part.Split('-', 2);
            var first = int.Parse(bounds[0], System.Globalization.CultureInfo.InvariantCulture);
            var last = bounds.Length == 2 ? int.Parse(bounds[1], System.Globalization.CultureInfo.InvariantCulture) : first;
            for (var seed = first; seed <= last; seed++)
            {
                yield return seed;
            }
        }
    }
}
