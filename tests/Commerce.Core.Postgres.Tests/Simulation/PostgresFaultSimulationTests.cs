using Commerce.Postgres.Tests.Support;
using Xunit.Abstractions;

namespace Commerce.Postgres.Tests.Simulation;

/// <summary>
/// The short configuration of the seeded fault simulation of the PostgreSQL store (each run on a server of
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
        await using var simulation = PostgresFaultSimulation.Create(101, forgetful: true);

        var failure = await Assert.ThrowsAsync<PostgresSimulationFailure>(() => simulation.RunAsync(300));

        output.WriteLine(failure.Message);
        Assert.StartsWith("seed 101, step ", failure.Message, StringComparison.Ordinal);
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
