using Commerce.Simulation;

namespace Commerce.InMemory.Tests.Simulation;

/// <summary>
/// The short configuration of the seeded fault simulation (the long one: <c>dotnet run -c Release --project
/// benchmarks/Commerce.Benchmarks -- simulate</c>): commits abandoned at every step between install and
/// decision, clients retrying with their keys, the whole shop checked as it goes.
/// </summary>
public sealed class FaultSimulationTests
{
    [Theory]
    [InlineData(101)]
    [InlineData(202)]
    [InlineData(303)]
    public void A_seeded_run_with_faults_at_every_step_loses_nothing_and_applies_nothing_twice(int seed)
    {
        var report = new FaultSimulation(seed).Run(1_500);

        Assert.True(report.Faults > 50, report.ToString());
        Assert.True(report.Retries > 50, report.ToString());
        Assert.True(report.Checks >= 6, report.ToString());
    }

    [Fact]
    public void The_same_seed_replays_the_same_run()
    {
        Assert.Equal(new FaultSimulation(7).Run(400), new FaultSimulation(7).Run(400));
    }

    [Fact]
    public void Without_faults_nothing_is_retried()
    {
        var report = new FaultSimulation(11, faultRate: 0).Run(400);

        Assert.Equal(0, report.Faults);
        Assert.Equal(0, report.Retries);
        Assert.Equal(400, report.Operations);
    }
}
