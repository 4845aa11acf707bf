using System.Text.RegularExpressions;
using Commerce.Conformance;
using Commerce.Events;
using Commerce.Postgres.Tests.Support;
using Commerce.Storage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Time.Testing;
using Npgsql;

namespace Commerce.Postgres.Tests;

/// <summary>
/// The store run as an application role that owns nothing: the schema migrated by its owner (here the test server's
/// superuser), the application granted exactly what the README lists under <i>Permissions</i>.
/// </summary>
public sealed class ApplicationRoleTests
{
    private static readonly UserId Alice = new(1);
    private static readonly ProductId Apple = new(10);
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(60);

    /// <summary>
    /// The README's grants: the first <c>sql</c> block under <i>Permissions</i>, for the role <c>shop_app</c> on the
    /// schema <c>commerce</c> of the database <c>shop</c>. The schema's functions are first taken from <c>PUBLIC</c>, as
    /// a review that revokes default privileges would, so that the grant of <c>EXECUTE</c> is the one that counts.
    /// </summary>
    private static string Grants(string role, string schema, string database)
    {
        var section = Readme.Section("src/Commerce.Core.Postgres/README.md", "### Permissions");
        var start = section.IndexOf("```sql\n", StringComparison.Ordinal) + "```sql\n".Length;
        var sql = section[start..section.IndexOf("```", start, StringComparison.Ordinal)];
        Assert.Contains("GRANT USAGE ON SCHEMA commerce TO shop_app;", sql, StringComparison.Ordinal);
        sql = Regex.Replace(sql, @"\bshop_app\b", role);
        sql = Regex.Replace(sql, @"\bDATABASE shop\b", "DATABASE " + database);
        sql = Regex.Replace(sql, @"\bcommerce\b", schema);
        return $"REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA {schema} FROM PUBLIC;\n{sql}";
    }

    /// <summary>
    /// An instance started as the README prescribes calls <c>EnsureCommerceSchemaAsync</c>; on a schema its owner
    /// migrated already, an application role without <c>CREATE</c> must find it current rather than be refused the
    /// <c>CREATE SCHEMA IF NOT EXISTS</c> (PostgreSQL checks the privilege before it looks for the schema). Then every
    /// use case, the event feed and store, the purges and the health check work with the README's grants alone.
    /// </summary>
    [PostgresFact]
    public Task A_role_granted_the_documented_privileges_starts_on_a_migrated_schema_and_runs_every_use_case() =>
        RunEveryUseCaseAsync(groupCommit: false);

    /// <summary>As above, with group commit: its reader and committer send their own statements (<c>expect_member</c> among them).</summary>
    [PostgresFact]
    public Task A_role_granted_the_documented_privileges_runs_every_use_case_with_group_commit() =>
        RunEveryUseCaseAsync(groupCommit: true);

    private static async Task RunEveryUseCaseAsync(bool groupCommit)
    {
        await using var shop = await PgShop.CreateAsync();
        await using var role = await ApplicationRoleAsync(shop.Schema);
        await using var provider = Build(role.ConnectionString, shop.Schema, groupCommit, shop.Time);

        await provider.EnsureCommerceSchemaAsync();

        var wallets = provider.GetRequiredService<IWalletService>();
        var catalog = provider.GetRequiredService<ICatalogService>();
        var orders = provider.GetRequiredService<IOrderService>();
        var carts = provider.GetRequiredService<ICartService>();
        var feed = provider.GetRequiredService<ICommerceEventFeed>();
        var events = provider.GetRequiredService<IEventStore>();

        Assert.True((await catalog.AddProductAsync(Apple, "Apple", new Money(30), 5)).IsSuccess);
        Assert.Equal(8, (await catalog.RestockAsync(Apple, 3)).Value.Stock);
        Assert.Single(await catalog.ListProductsAsync());
        Assert.Equal(new Money(500), (await wallets.ChargeAsync(Alice, new Money(500))).Value);
        Assert.Equal(new Money(600), (await wallets.ChargeAsync(Alice, new Money(100), new IdempotencyKey("charge-1"))).Value);
        Assert.Equal(new Money(600), (await wallets.ChargeAsync(Alice, new Money(100), new IdempotencyKey("charge-1"))).Value);
        var order = (await orders.PlaceOrderAsync(Alice, [new(Apple, 2)])).Value;
        var keyed = (await orders.PlaceOrderAsync(Alice, [new(Apple, 1)], new IdempotencyKey("order-1"))).Value;
        Assert.Equal(keyed.Id, (await orders.PlaceOrderAsync(Alice, [new(Apple, 1)], new IdempotencyKey("order-1"))).Value.Id);
        Assert.True((await orders.CancelOrderAsync(order.Id)).IsSuccess);
        Assert.True((await carts.AddItemAsync(Alice, Apple, 1)).IsSuccess);
        Assert.True((await carts.CheckoutAsync(Alice, new IdempotencyKey("checkout-1"))).IsSuccess);
        Assert.Empty((await carts.GetCartAsync(Alice)).Lines);
        Assert.Equal(3, (await orders.ListOrdersAsync(Alice)).Count);
        Assert.Equal(new Money(600 - 30 - 30), await wallets.GetBalanceAsync(Alice));
        Assert.Equal(6, (await wallets.GetLedgerAsync(Alice)).Count);
        Assert.NotEmpty(await provider.GetRequiredService<ISalesRankingService>().GetPopularProductsAsync());

        // The feed: a page, a wait woken by a later commit (LISTEN and NOTIFY need no grant), a checkpoint, a purge.
        var page = await feed.ReadAsync(EventCursor.Start, 1000);
        Assert.NotEmpty(page.Events);
        var wait = feed.WaitAsync(page.Next).AsTask();
        Assert.True((await wallets.ChargeAsync(Alice, new Money(1))).IsSuccess);
        await wait.WaitAsync(Generous);
        await events.SaveCheckpointAsync("projection", page.Next);
        Assert.Equal(page.Next, await events.LoadCheckpointAsync("projection"));
        Assert.Equal(page.Events.Count, await events.PurgeEventsAsync(shop.Time.GetUtcNow().AddDays(1), page.Next));

        await using (var session = await provider.GetRequiredService<PostgresCommerceStore>().OpenSessionAsync())
        {
            Assert.Equal(0, await session.PurgeIdempotencyAsync(shop.Time.GetUtcNow().AddDays(-1)));
        }

        var report = await provider.GetRequiredService<HealthCheckService>().CheckHealthAsync();
        Assert.Equal(HealthStatus.Healthy, report.Status);
    }

    /// <summary>
    /// A schema behind the package is migrated only by a role allowed to: the application role calling
    /// <c>EnsureCommerceSchemaAsync</c> there is refused with the server's <c>42501</c>, and nothing is migrated.
    /// </summary>
    [PostgresFact]
    public async Task A_role_granted_the_documented_privileges_is_refused_the_migration_of_a_schema_behind_the_package()
    {
        await using var shop = await PgShop.CreateAsync();
        await using var role = await ApplicationRoleAsync(shop.Schema);
        var last = PostgresSchemaMigrator.Migrations[^1].Version;
        await shop.ScalarAsync<long>($"WITH d AS (DELETE FROM {{s}}.schema_version WHERE version = {last} RETURNING 1) SELECT count(*) FROM d");
        await using var provider = Build(role.ConnectionString, shop.Schema, groupCommit: false, shop.Time);

        var refused = await Assert.ThrowsAsync<PostgresException>(() => provider.EnsureCommerceSchemaAsync());

        Assert.Equal(PostgresErrorCodes.InsufficientPrivilege, refused.SqlState);
        Assert.Equal(0L, await shop.ScalarAsync<long>($"SELECT count(*) FROM {{s}}.schema_version WHERE version = {last}"));
    }

    private static ServiceProvider Build(string connectionString, string schema, bool groupCommit, FakeTimeProvider time)
    {
        var services = new ServiceCollection().AddLogging();
        services.AddSingleton<TimeProvider>(time);
        services.AddCommerce().UsePostgresStore(o =>
        {
            o.ConnectionString = connectionString;
            o.Schema = schema;
            o.GroupCommit = groupCommit;
        });
        services.AddHealthChecks().AddCommercePostgres();
        return services.BuildServiceProvider();
    }

    /// <summary>A login role granted <see cref="Grants"/> on <paramref name="schema"/>, dropped with its privileges when disposed.</summary>
    private static Task<TemporaryRole> ApplicationRoleAsync(string schema) =>
        TemporaryRole.CreateAsync("app_", grants: (role, database) => Grants(role, "\"" + schema + "\"", database));
}
