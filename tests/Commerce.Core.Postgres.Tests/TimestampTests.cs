using Commerce.Postgres.Tests.Support;

namespace Commerce.Postgres.Tests;

/// <summary>Instants read back from the database, whatever Npgsql's timestamp settings and the local time zone.</summary>
public sealed class TimestampTests
{
    /// <summary>
    /// A host that turned on Npgsql's legacy timestamp behaviour (as many did to move from older versions) reads every
    /// <c>timestamptz</c> at the local time zone's offset. The store still returns every instant at offset zero, as
    /// documented, and the same instant as written. Before, a host east of UTC got its orders', ledger entries' and
    /// events' instants at +01:00 (the same instants, but not as documented, and not as the in-memory store returns them).
    /// Run in a process of its own: the switch is read once per process, and the time zone is the process's.
    /// </summary>
    [PostgresFact]
    public async Task Under_Npgsqls_legacy_timestamp_behaviour_east_of_UTC_every_instant_reads_back_at_offset_zero()
    {
        await using var shop = await PgShop.CreateAsync();

        var (exitCode, output) = await Probes.RunAsync(
            new Dictionary<string, string> { ["TZ"] = "Europe/Paris" },
            "legacy-timestamps",
            PgShop.RequiredConnectionString,
            shop.Schema);

        Assert.True(exitCode == 0, $"exit code {exitCode}: {output}");
    }
}
