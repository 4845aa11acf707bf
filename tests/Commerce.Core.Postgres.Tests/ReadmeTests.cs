using Commerce.Conformance;

namespace Commerce.Postgres.Tests;

/// <summary>The package's README says what the store does: it names every log event and every option. Needs no server.</summary>
public sealed class ReadmeTests
{
    private const string PostgresReadme = "src/Commerce.Core.Postgres/README.md";

    [Fact]
    public void The_readme_gives_every_log_event_its_id_name_and_level()
    {
        var text = Readme.Text(PostgresReadme);
        var events = Readme.LogEvents(typeof(PostgresStoreOptions).Assembly);
        Assert.NotEmpty(events);
        Assert.All(
            events,
            e => Assert.Contains($"event id {e.Id}, `{e.Name}`, {e.Level}", text, StringComparison.Ordinal));
    }

    [Fact]
    public void The_set_up_names_every_option()
    {
        var setUp = Readme.Section(PostgresReadme, "## Set-up");
        Assert.All(typeof(PostgresStoreOptions).GetProperties(), p => Assert.Contains(p.Name, setUp, StringComparison.Ordinal));
    }
}
