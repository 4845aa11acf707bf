using System.Net;
using System.Net.Sockets;
using Commerce.Events;
using Commerce.Postgres.Tests.Support;
using Commerce.Storage;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace Commerce.Postgres.Tests;

/// <summary>The store's session through the ports: batch reads, and change sets built by hand.</summary>
public sealed class SessionTests
{
    private static readonly UserId Alice = new(1);
    private static readonly UserId Bob = new(2);
    private static readonly ProductId Apple = new(10);
    private static readonly ProductId Pear = new(20);

    [Fact]
    public async Task A_connection_refused_to_a_unit_of_work_says_what_it_was_for()
    {
        // A port with no listener (bound, then released): the session's connection is refused at the socket.
        int port;
        using (var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp))
        {
            socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            port = ((IPEndPoint)socket.LocalEndPoint!).Port;
        }

        var services = new ServiceCollection();
        services.AddCommerce(o => o.MaxCommitAttempts = 1).UsePostgresStore($"Host=127.0.0.1;Port={port};Username=postgres;Timeout=5");
        await using var provider = services.BuildServiceProvider();

        var refused = await Assert.ThrowsAsync<StoreUnavailableException>(
            async () => await provider.GetRequiredService<IWalletService>().GetBalanceAsync(Alice));

        var fromStore = Assert.IsType<StoreUnavailableException>(refused.InnerException);
        Assert.StartsWith("No connection to PostgreSQL for a unit of work for now (", fromStore.Message, StringComparison.Ordinal);
    }

    [PostgresFact]
    public async Task A_store_on_the_hosts_data_source_refuses_use_cases_and_event_reads_once_disposed_as_one_that_owns_its_data_source_does()
    {
        await using var shop = await PgShop.CreateAsync();
        await using var dataSource = NpgsqlDataSource.Create(PgShop.RequiredConnectionString);
        var services = new ServiceCollection();
        services.AddSingleton(dataSource); // the host's: the container does not dispose it
        services.AddCommerce().UsePostgresStore(o => o.Schema = shop.Schema);
        IWalletService wallets;
        ICommerceEventFeed feed;
        await using (var provider = services.BuildServiceProvider())
        {
            wallets = provider.GetRequiredService<IWalletService>();
            feed = provider.GetRequiredService<ICommerceEventFeed>();
            Assert.Equal(new Money(5), (await wallets.ChargeAsync(Alice, new Money(5))).Value);
            Assert.Single((await feed.ReadAsync(EventCursor.Start)).Events);
        }

        // The store is disposed with its provider (its committer, reader and notifier stopped); the data source lives on.
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await wallets.ChargeAsync(Alice, new Money(7)));
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await wallets.GetBalanceAsync(Alice));
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await feed.ReadAsync(EventCursor.Start));
        Assert.Equal(new Money(5), await shop.Wallets.GetBalanceAsync(Alice));
    }

    [PostgresFact]
    public async Task A_batch_read_of_every_table_present_and_absent_is_one_round_trip()
    {
        await using var shop = await PgShop.CreateAsync();
        await shop.Catalog.AddProductAsync(Apple, "Apple", new Money(30), 5);
        await shop.Wallets.ChargeAsync(Alice, new Money(100));
        await shop.Carts.AddItemAsync(Alice, Apple, 2);
        shop.Time.Advance(TimeSpan.FromTicks(7));
        var order = (await shop.Orders.PlaceOrderAsync(Alice, [new(Apple, 1)])).Value;
        var missingOrder = new OrderId(Guid.NewGuid());

        await using var unitOfWork = await shop.Store.BeginAsync();
        StoreKey[] keys =
        [
            StoreKey.ForWallet(Alice), StoreKey.ForWallet(Bob), StoreKey.ForProduct(Apple), StoreKey.ForProduct(Pear),
            StoreKey.ForStock(Apple), StoreKey.ForStock(Pear), StoreKey.ForCart(Alice), StoreKey.ForCart(Bob),
            StoreKey.ForOrder(order.Id), StoreKey.ForOrder(missingOrder),
        ];
        foreach (var key in keys)
        {
            unitOfWork.Prefetch(key);
        }

        var before = shop.Store.RoundTrips;
        await unitOfWork.LoadAsync();
        Assert.Equal(1, shop.Store.RoundTrips - before);

        Assert.Equal(new Wallet(Alice, new Money(70), 2), await unitOfWork.Wallets.FindAsync(Alice));
        Assert.Null(await unitOfWork.Wallets.FindAsync(Bob));
        Assert.Equal(new Product(Apple, "Apple", new Money(30)), await unitOfWork.Products.FindAsync(Apple));
        Assert.Null(await unitOfWork.Products.FindAsync(Pear));
        Assert.Equal(new StockItem(Apple, 4), await unitOfWork.Inventory.FindAsync(Apple));
        Assert.Null(await unitOfWork.Inventory.FindAsync(Pear));
        Assert.Equal([new CartLine(Apple, 2)], (await unitOfWork.Carts.FindAsync(Alice))!.Lines.ToArray());
        Assert.Null(await unitOfWork.Carts.FindAsync(Bob));
        var read = (await unitOfWork.Orders.FindAsync(order.Id))!;
        Assert.Equal(order, read);
        Assert.Equal(order.PlacedAt.UtcTicks, read.PlacedAt.UtcTicks);
        Assert.Null(await unitOfWork.Orders.FindAsync(missingOrder));

        // One statement is one snapshot: a read-only unit of work over it commits without validating.
        Assert.True(await unitOfWork.CommitAsync());
        Assert.Equal(1, shop.Store.RoundTrips - before);
    }

    [PostgresFact]
    public async Task An_adjustment_of_stock_below_its_minimum_fails_the_commit_and_applies_nothing()
    {
        await using var shop = await PgShop.CreateAsync();
        await shop.Catalog.AddProductAsync(Apple, "Apple", new Money(30), 5);
        await shop.Catalog.AddProductAsync(Pear, "Pear", new Money(30), 5);
        var bucket = 12345L;

        Assert.False(await CommitAsync(
            shop,
            ChangeSets.Adjust(StoreKey.ForStock(Pear), -1),
            ChangeSets.Adjust(StoreKey.ForStock(Apple), -6),
            ChangeSets.Insert(StoreKey.ForWallet(Bob), new Wallet(Bob, new Money(7))),
            ChangeSets.Adjust(StoreKey.ForSales(bucket, Apple), 6)));
        Assert.False(await CommitAsync(shop, ChangeSets.Adjust(StoreKey.ForStock(Apple), -1, minimum: 5)));
        Assert.False(await CommitAsync(shop, ChangeSets.Adjust(StoreKey.ForStock(Apple), int.MaxValue)));
        Assert.False(await CommitAsync(shop, ChangeSets.Adjust(StoreKey.ForStock(new ProductId(99)), 1))); // no stock row

        Assert.Equal(5L, await shop.ScalarAsync<long>("SELECT on_hand FROM {s}.stock WHERE product_id = 10"));
        Assert.Equal(5L, await shop.ScalarAsync<long>("SELECT on_hand FROM {s}.stock WHERE product_id = 20"));
        Assert.Equal(2L, await shop.ScalarAsync<long>("SELECT sum(version) FROM {s}.stock"));
        Assert.Equal(0L, await shop.ScalarAsync<long>("SELECT count(*) FROM {s}.wallets"));
        Assert.Equal(0L, await shop.ScalarAsync<long>("SELECT count(*) FROM {s}.sales"));

        // Down to the minimum exactly, and relative: the version is not checked, only moved.
        Assert.True(await CommitAsync(shop, ChangeSets.Adjust(StoreKey.ForStock(Apple), -5), ChangeSets.Adjust(StoreKey.ForSales(bucket, Apple), 5)));
        Assert.Equal(0, (await shop.Catalog.GetProductAsync(Apple)).Value.Stock);
        Assert.Equal(2L, await shop.ScalarAsync<long>("SELECT version FROM {s}.stock WHERE product_id = 10"));
        Assert.Equal(5L, await shop.ScalarAsync<long>("SELECT quantity FROM {s}.sales"));
        Assert.Equal(
            (DateTimeOffset.UnixEpoch + (bucket * new CommerceOptions().RankingResolution)).UtcDateTime,
            await shop.ScalarAsync<DateTime>("SELECT bucket_start FROM {s}.sales"));
    }

    [PostgresFact]
    public async Task An_adjustment_of_a_wallet_counts_an_absent_one_as_zero_and_respects_its_minimum()
    {
        await using var shop = await PgShop.CreateAsync();
        await shop.Wallets.ChargeAsync(Alice, new Money(100));

        Assert.True(await CommitAsync(shop, ChangeSets.Adjust(StoreKey.ForWallet(Bob), 7)));
        Assert.False(await CommitAsync(shop, ChangeSets.Adjust(StoreKey.ForWallet(new UserId(3)), -1)));
        Assert.False(await CommitAsync(shop, ChangeSets.Adjust(StoreKey.ForWallet(new UserId(3)), 5, minimum: 6)));
        Assert.False(await CommitAsync(shop, ChangeSets.Adjust(StoreKey.ForWallet(Alice), -101), ChangeSets.Adjust(StoreKey.ForWallet(Bob), 1)));
        Assert.False(await CommitAsync(shop, ChangeSets.Adjust(StoreKey.ForWallet(Alice), long.MaxValue)));
        Assert.True(await CommitAsync(shop, ChangeSets.Adjust(StoreKey.ForWallet(Alice), -100), ChangeSets.Adjust(StoreKey.ForWallet(Bob), 1)));

        Assert.Equal(new Money(0), await shop.Wallets.GetBalanceAsync(Alice));
        Assert.Equal(new Money(8), await shop.Wallets.GetBalanceAsync(Bob));
        Assert.Equal(0L, await shop.ScalarAsync<long>("SELECT count(*) FROM {s}.wallets WHERE user_id = 3"));
        Assert.Equal(2L, await shop.ScalarAsync<long>("SELECT version FROM {s}.wallets WHERE user_id = 1"));
    }

    [PostgresFact]
    public async Task An_insert_over_an_existing_key_fails_the_commit_and_applies_nothing()
    {
        await using var shop = await PgShop.CreateAsync();
        await shop.Catalog.AddProductAsync(Apple, "Apple", new Money(30), 5);
        await shop.Wallets.ChargeAsync(Alice, new Money(100));
        await shop.Carts.AddItemAsync(Alice, Apple, 1);
        var order = (await shop.Orders.PlaceOrderAsync(Alice, [new(Apple, 1)])).Value;
        var before = await DescribeAsync(shop);

        var fresh = ChangeSets.Insert(StoreKey.ForWallet(Bob), new Wallet(Bob, new Money(1)));
        Assert.False(await CommitAsync(shop, fresh, ChangeSets.Insert(StoreKey.ForProduct(Apple), new Product(Apple, "Again", new Money(1)))));
        Assert.False(await CommitAsync(shop, fresh, ChangeSets.Insert(StoreKey.ForStock(Apple), new StockItem(Apple, 9))));
        Assert.False(await CommitAsync(shop, fresh, ChangeSets.Insert(StoreKey.ForWallet(Alice), new Wallet(Alice, new Money(1)))));
        Assert.False(await CommitAsync(shop, fresh, ChangeSets.Insert(StoreKey.ForCart(Alice), Cart.Empty(Alice))));
        Assert.False(await CommitAsync(shop, fresh, ChangeSets.Insert(StoreKey.ForOrder(order.Id), order)));

        Assert.Equal(before, await DescribeAsync(shop));
        Assert.Equal(0L, await shop.ScalarAsync<long>("SELECT count(*) FROM {s}.wallets WHERE user_id = 2"));
    }

    [PostgresFact]
    public async Task Replacing_a_write_once_state_is_refused_without_a_round_trip()
    {
        await using var shop = await PgShop.CreateAsync();
        await shop.Catalog.AddProductAsync(Apple, "Apple", new Money(30), 5);
        var apple = new Product(Apple, "Apple", new Money(30));

        await using var session = await shop.Store.OpenSessionAsync();
        var before = shop.Store.RoundTrips;
        Assert.False(await session.CommitAsync(ChangeSets.Of(
            ChangeSets.Update(StoreKey.ForProduct(Apple), new StoredState(apple, 1), new Product(Apple, "Renamed", new Money(1))),
            ChangeSets.Insert(StoreKey.ForWallet(Alice), new Wallet(Alice, new Money(1))))));
        Assert.Equal(before, shop.Store.RoundTrips);
        Assert.Equal("Apple", (await shop.Catalog.GetProductAsync(Apple)).Value.Name);
        Assert.Equal(0L, await shop.ScalarAsync<long>("SELECT count(*) FROM {s}.wallets"));
    }

    [PostgresFact]
    public async Task A_read_checked_at_commit_fails_it_when_its_version_moved()
    {
        await using var shop = await PgShop.CreateAsync();
        await shop.Wallets.ChargeAsync(Alice, new Money(100));
        var seen = new StoredState(new Wallet(Alice, new Money(100)), 1);
        var write = ChangeSets.Insert(StoreKey.ForWallet(Bob), new Wallet(Bob, new Money(1)));

        await shop.Wallets.ChargeAsync(Alice, new Money(1));
        Assert.False(await CommitAsync(shop, ChangeSets.Read(StoreKey.ForWallet(Alice), seen), write));
        Assert.True(await CommitAsync(shop, ChangeSets.Read(StoreKey.ForWallet(Alice), seen with { Version = 2 }), write));
        Assert.Equal(new Money(1), await shop.Wallets.GetBalanceAsync(Bob));
    }

    private static async Task<bool> CommitAsync(PgShop shop, params Change[] changes)
    {
        await using var session = await shop.Store.OpenSessionAsync();
        return await session.CommitAsync(ChangeSets.Of(changes));
    }

    private static Task<string> DescribeAsync(PgShop shop) => shop.ScalarAsync<string>(
        """
        SELECT concat_ws(' | ',
            (SELECT string_agg(concat_ws(',', user_id, balance, version), ';' ORDER BY user_id) FROM {s}.wallets),
            (SELECT string_agg(concat_ws(',', id, name, price, version), ';' ORDER BY id) FROM {s}.products),
            (SELECT string_agg(concat_ws(',', product_id, on_hand, version), ';' ORDER BY product_id) FROM {s}.stock),
            (SELECT string_agg(concat_ws(',', user_id, lines::text, version), ';' ORDER BY user_id) FROM {s}.carts),
            (SELECT string_agg(concat_ws(',', id, user_id, total), ';' ORDER BY id) FROM {s}.orders),
            (SELECT count(*) FROM {s}.order_lines),
            (SELECT string_agg(concat_ws(',', bucket_start, product_id, quantity), ';' ORDER BY product_id) FROM {s}.sales))
        """);
}
