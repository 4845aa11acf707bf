using Commerce.Conformance;
using Commerce.Events;
using Commerce.InMemory.Tests.LockFree;
using Commerce.InMemory.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace Commerce.InMemory.Tests;

/// <summary>
/// Cancellation on the in-memory store, through the public services: a call whose token is cancelled before it
/// starts, or while it backs off after conflicts, ends with <see cref="OperationCanceledException"/> carrying that
/// token and leaves nothing behind (no state change, ledger entry, event or idempotency record), so that a retry
/// with the same key runs once.
/// </summary>
public sealed class CancellationTests
{
    private static readonly UserId Buyer = new(1);

    private static readonly ProductId Tea = new(1);

    [Fact]
    public async Task Every_service_call_with_a_cancelled_token_throws_with_that_token_and_changes_publishes_and_records_nothing()
    {
        using var shop = InMemoryShop.Create();
        await shop.AddProductAsync(1, 300, 10, "Tea");
        await shop.ChargeAsync(1, 10_000);
        var placed = (await shop.OrderAsync(1, (1, 1))).Value;
        Assert.True((await shop.Carts.AddItemAsync(Buyer, Tea, 2)).IsSuccess);
        var feed = shop.Services.GetRequiredService<ICommerceEventFeed>();
        var before = await shop.DescribeAllAsync(1);
        var (eventsBefore, cursor) = await ReadAllAsync(feed, EventCursor.Start);
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();
        var token = cancelled.Token;
        IdempotencyKey Key(string name) => new(name);

        var calls = new (string Name, Func<Task> Call)[]
        {
            ("ChargeAsync", async () => await shop.Wallets.ChargeAsync(Buyer, new Money(5), token)),
            ("ChargeAsync (keyed)", async () => await shop.Wallets.ChargeAsync(Buyer, new Money(5), Key("charge"), token)),
            ("GetBalanceAsync", async () => await shop.Wallets.GetBalanceAsync(Buyer, token)),
            ("GetLedgerAsync", async () => await shop.Wallets.GetLedgerAsync(Buyer, 0, 10, token)),
            ("AddProductAsync", async () => await shop.Catalog.AddProductAsync(new ProductId(2), "Cake", new Money(50), 3, token)),
            ("RestockAsync", async () => await shop.Catalog.RestockAsync(Tea, 4, token)),
            ("GetProductAsync", async () => await shop.Catalog.GetProductAsync(Tea, token)),
            ("ListProductsAsync", async () => await shop.Catalog.ListProductsAsync(token)),
            ("PlaceOrderAsync", async () => await shop.Orders.PlaceOrderAsync(Buyer, LedgerShopExtensions.Lines((1, 1)), token)),
            ("PlaceOrderAsync (keyed)", async () => await shop.Orders.PlaceOrderAsync(Buyer, LedgerShopExtensions.Lines((1, 1)), Key("order"), token)),
            ("GetOrderAsync", async () => await shop.Orders.GetOrderAsync(placed.Id, token)),
            ("CancelOrderAsync", async () => await shop.Orders.CancelOrderAsync(placed.Id, token)),
            ("ListOrdersAsync", async () => await shop.Orders.ListOrdersAsync(Buyer, 10, token)),
            ("GetPopularProductsAsync", async () => await shop.Ranking.GetPopularProductsAsync(token)),
            ("AddItemAsync", async () => await shop.Carts.AddItemAsync(Buyer, Tea, 1, token)),
            ("RemoveItemAsync", async () => await shop.Carts.RemoveItemAsync(Buyer, Tea, token)),
            ("GetCartAsync", async () => await shop.Carts.GetCartAsync(Buyer, token)),
            ("CheckoutAsync", async () => await shop.Carts.CheckoutAsync(Buyer, token)),
            ("CheckoutAsync (keyed)", async () => await shop.Carts.CheckoutAsync(Buyer, Key("checkout"), token)),
            ("ICommerceEventFeed.ReadAsync", async () => await feed.ReadAsync(EventCursor.Start, 10, token)),
            ("ICommerceEventFeed.WaitAsync", async () => await feed.WaitAsync(EventCursor.Start, token)),
        };

        foreach (var (name, call) in calls)
        {
            var thrown = await Record.ExceptionAsync(call);
            var cancellation = Assert.IsAssignableFrom<OperationCanceledException>(thrown);
            Assert.True(cancellation.CancellationToken == token, $"{name} threw an OperationCanceledException that does not carry the caller's token.");
        }

        Assert.Equal(before, await shop.DescribeAllAsync(1));
        Assert.Empty((await ReadAllAsync(feed, cursor)).Events);
        Assert.Equal(eventsBefore.Count, (await ReadAllAsync(feed, EventCursor.Start)).Events.Count);

        // No outcome was stored under the keys: each runs now, once.
        Assert.Equal(new Money(10_000 - 300 + 5), (await shop.Wallets.ChargeAsync(Buyer, new Money(5), Key("charge"))).Value);
        Assert.True((await shop.KeyedOrderAsync(1, Key("order"), (1, 1))).IsSuccess);
        Assert.True((await shop.Carts.CheckoutAsync(Buyer, Key("checkout"))).IsSuccess);
        Assert.Equal(new Money(10_000 - 300 + 5 - 300 - 600), await shop.Wallets.GetBalanceAsync(Buyer));
    }

    [Theory]
    [InlineData("charge")]
    [InlineData("order")]
    [InlineData("checkout")]
    public async Task A_keyed_request_cancelled_while_it_backs_off_after_conflicts_applies_nothing_and_its_retry_runs_once(string operation)
    {
        using var shop = InMemoryShop.Create(o => o.MaxCommitAttempts = 64);
        await shop.AddProductAsync(1, 300, 10, "Tea");
        await shop.ChargeAsync(1, 10_000);
        Assert.True((await shop.Carts.AddItemAsync(Buyer, Tea, 2)).IsSuccess);
        var feed = shop.Services.GetRequiredService<ICommerceEventFeed>();
        var (_, cursor) = await ReadAllAsync(feed, EventCursor.Start);
        var store = shop.InMemoryStore();
        using var cancel = new CancellationTokenSource();

        // Each attempt loses its commit to a charge of the same wallet on another thread; the caller gives up during
        // the sixth, so that the cancellation meets the runtime in its back-off before the seventh (every attempt
        // from the third on, for an attempt as slow as one that waits for another thread, waits a random time first).
        var attempts = 0;
        var interfering = false;
        store.BeforeCas = () =>
        {
            if (Volatile.Read(ref interfering))
            {
                return;
            }

            Volatile.Write(ref interfering, true);
            Assert.True(PausedCommit.CompletesOnAnotherThread(() => Sync.Run(shop.Wallets.ChargeAsync(Buyer, new Money(1)))).IsSuccess);
            Volatile.Write(ref interfering, false);
            if (++attempts == 6)
            {
                cancel.Cancel();
            }
        };

        var thrown = await Record.ExceptionAsync(async () => await RunAsync(shop, operation, cancel.Token));

        store.BeforeCas = null;
        Assert.Equal(cancel.Token, Assert.IsAssignableFrom<OperationCanceledException>(thrown).CancellationToken);
        Assert.Equal(6, attempts);

        // Only the six interfering charges happened.
        var (events, after) = await ReadAllAsync(feed, cursor);
        Assert.Equal(6, events.Count);
        Assert.All(events, e => Assert.IsType<WalletCharged>(e));
        Assert.Equal(new Money(10_006), await shop.Wallets.GetBalanceAsync(Buyer));
        Assert.Equal(10, await shop.StockOfAsync(1));
        Assert.Equal(2, (await shop.Carts.GetCartAsync(Buyer)).Lines.Single().Quantity);
        Assert.Empty(await shop.Orders.ListOrdersAsync(Buyer));

        // The retry under the same key runs, once; a repeat replays it.
        var retried = await RunAsync(shop, operation, CancellationToken.None);
        var repeated = await RunAsync(shop, operation, CancellationToken.None);
        Assert.True(retried.Succeeded, retried.Text);
        Assert.Equal(retried.Text, repeated.Text);
        Assert.Equal(operation == "charge" ? new Money(10_011) : new Money(10_006 - 600), await shop.Wallets.GetBalanceAsync(Buyer));
        Assert.Equal(operation == "charge" ? 0 : 1, (await shop.Orders.ListOrdersAsync(Buyer)).Count);
        Assert.NotEmpty((await ReadAllAsync(feed, after)).Events);
    }

    /// <summary>A keyed charge of 5, a keyed order of two teas, or a keyed checkout (of the cart's two teas), under the key "k".</summary>
    private static async Task<(bool Succeeded, string Text)> RunAsync(Shop shop, string operation, CancellationToken cancellationToken)
    {
        var key = new IdempotencyKey("k");
        return operation switch
        {
            "charge" => Outcome(await shop.Wallets.ChargeAsync(Buyer, new Money(5), key, cancellationToken)),
            "order" => Outcome(await shop.Orders.PlaceOrderAsync(Buyer, LedgerShopExtensions.Lines((1, 2)), key, cancellationToken)),
            "checkout" => Outcome(await shop.Carts.CheckoutAsync(Buyer, key, cancellationToken)),
            _ => throw new ArgumentOutOfRangeException(nameof(operation), operation, null),
        };

        static (bool, string) Outcome<T>(Result<T> result) => (result.IsSuccess, result.ToString());
    }

    /// <summary>Every event after <paramref name="after"/>, and the cursor past the last.</summary>
    private static async Task<(List<CommerceEvent> Events, EventCursor Next)> ReadAllAsync(ICommerceEventFeed feed, EventCursor after)
    {
        var events = new List<CommerceEvent>();
        while (true)
        {
            var page = await feed.ReadAsync(after, 1000);
            if (page.Events.Count == 0)
            {
                return (events, after);
            }

            events.AddRange(page.Events);
            after = page.Next;
        }
    }
}
