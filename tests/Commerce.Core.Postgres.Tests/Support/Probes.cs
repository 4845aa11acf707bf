using System.Diagnostics;
using Commerce.Events;
using Microsoft.Extensions.DependencyInjection;

namespace Commerce.Postgres.Tests.Support;

/// <summary>
/// The test assembly's entry point (the test SDK's generated one is turned off in the project file): it does nothing
/// unless it is named a probe, which a test runs in a process of its own (<see cref="RunAsync"/>), for what must be
/// set before anything else in a process: an <see cref="AppContext"/> switch Npgsql reads once, the local time zone.
/// </summary>
public static class Probes
{
    /// <summary>Runs the probe named by the arguments, if any; its exit code says how it went (0: as expected).</summary>
    public static Task<int> Main(string[] args) => args switch
    {
        ["legacy-timestamps", var connectionString, var schema] => LegacyTimestampsAsync(connectionString, schema),
        _ => Task.FromResult(0),
    };

    /// <summary>
    /// Runs a probe of this assembly in a process of its own, with the given environment variables, for at most two
    /// minutes; returns its exit code and what it wrote.
    /// </summary>
    public static async Task<(int ExitCode, string Output)> RunAsync(IReadOnlyDictionary<string, string> environment, params string[] args)
    {
        var start = new ProcessStartInfo(Environment.ProcessPath is { } host && Path.GetFileNameWithoutExtension(host) == "dotnet" ? host : "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.ArgumentList.Add("exec");
        start.ArgumentList.Add(typeof(Probes).Assembly.Location);
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException("The probe's process did not start.");
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using (var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2)))
        {
            try
            {
                await process.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                throw new TimeoutException("The probe ran for two minutes without ending.");
            }
        }

        return (process.ExitCode, await output + await error);
    }

    /// <summary>
    /// With Npgsql's legacy timestamp behaviour on (which reads a <c>timestamptz</c> at the local time zone's offset),
    /// runs the use cases that read instants back from the database on <paramref name="schema"/> (migrated already), and
    /// checks that every instant is at offset zero, as the library returns them, and the same instant as written.
    /// Exit code 0 if so, 1 if not, 2 if the local time zone is UTC at that instant (the probe would prove nothing).
    /// </summary>
    private static async Task<int> LegacyTimestampsAsync(string connectionString, string schema)
    {
        AppContext.SetSwitch("Npgsql.EnableLegacyTimestampBehavior", true);
        var services = new ServiceCollection();
        services.AddCommerce().UsePostgresStore(o =>
        {
            o.ConnectionString = connectionString;
            o.Schema = schema;
        });
        await using var provider = services.BuildServiceProvider();
        var user = new UserId(1);
        var product = new ProductId(1);
        Check((await provider.GetRequiredService<ICatalogService>().AddProductAsync(product, "Apple", new Money(10), 5)).IsSuccess);
        Check((await provider.GetRequiredService<IWalletService>().ChargeAsync(user, new Money(100))).IsSuccess);
        var orders = provider.GetRequiredService<IOrderService>();
        var placed = (await orders.PlaceOrderAsync(user, [new OrderLineRequest(product, 2)])).Value;
        var read = (await orders.GetOrderAsync(placed.Id)).Value;
        Check(read.PlacedAt == placed.PlacedAt);
        var cancelled = (await orders.CancelOrderAsync(placed.Id)).Value;
        var ledger = await provider.GetRequiredService<IWalletService>().GetLedgerAsync(user);
        var events = (await provider.GetRequiredService<ICommerceEventFeed>().ReadAsync(EventCursor.Start)).Events;
        DateTimeOffset[] instants =
        [
            read.PlacedAt,
            (await orders.GetOrderAsync(placed.Id)).Value.CancelledAt!.Value,
            .. ledger.Select(e => e.At),
            .. events.Select(e => e.At),
        ];
        Console.WriteLine($"local offset {TimeZoneInfo.Local.GetUtcOffset(placed.PlacedAt)}; read: {string.Join(", ", instants.Select(i => i.ToString("O")))}");
        Check(instants[1] == cancelled.CancelledAt);
        if (TimeZoneInfo.Local.GetUtcOffset(placed.PlacedAt) == TimeSpan.Zero)
        {
            return 2;
        }

        return instants.All(i => i.Offset == TimeSpan.Zero) ? 0 : 1;
    }

    private static void Check(bool condition)
    {
        if (!condition)
        {
            throw new InvalidOperationException("A use case of the probe did not go as expected.");
        }
    }
}
