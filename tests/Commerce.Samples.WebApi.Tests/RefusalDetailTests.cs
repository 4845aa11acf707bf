using System.Net;
using System.Text.Json;
using Commerce.Storage;
using Microsoft.Extensions.DependencyInjection;

namespace Commerce.Samples.WebApi.Tests;

/// <summary>
/// A refusal at one of the library's limits says the limit's value in the request's terms: a client cannot act on
/// the name of a server option (<c>CommerceOptions.MaxLineQuantity</c>), which the library's own messages give.
/// The <c>code</c> stays the library's.
/// </summary>
public sealed class RefusalDetailTests
{
    [Fact]
    public async Task A_charge_above_the_largest_single_charge_names_the_largest()
    {
        await using var server = await ApiServer.StartAsync();

        var problem = await ApiServer.ExpectProblemAsync(
            await server.User(1).PostJsonAsync("/users/1/balance/charge", new { amount = 10_000_001 }), HttpStatusCode.BadRequest, "ChargeLimitExceeded");

        AssertDetail("A single charge may be at most 10000000, but was 10000001.", problem);
    }

    [Fact]
    public async Task A_charge_that_would_take_the_balance_above_its_largest_names_the_largest()
    {
        await using var server = await ApiServer.StartWithServicesAsync(services => services.AddCommerce(o => o.MaxBalance = new Money(1_000)));
        await server.ChargeAsync(1, 600);

        var problem = await ApiServer.ExpectProblemAsync(
            await server.User(1).PostJsonAsync("/users/1/balance/charge", new { amount = 600 }), HttpStatusCode.Conflict, "BalanceLimitExceeded");

        AssertDetail("Adding 600 to the balance of 600 would exceed the maximum balance of 1000.", problem);
    }

    [Fact]
    public async Task A_product_name_above_the_longest_names_the_longest()
    {
        await using var server = await ApiServer.StartAsync();

        var problem = await ApiServer.ExpectProblemAsync(
            await server.Admin.PostJsonAsync("/products", new { id = 1, name = new string('n', 201), price = 1, stock = 1 }),
            HttpStatusCode.BadRequest,
            "InvalidProductName");

        AssertDetail("A product name may have at most 200 characters, but had 201.", problem);
    }

    [Fact]
    public async Task A_line_quantity_above_the_largest_names_the_largest_in_an_order_and_in_a_cart()
    {
        await using var server = await ApiServer.StartAsync();
        await server.AddProductAsync(1, "Keyboard", 1, 10);
        await server.ChargeAsync(1, 1_000);

        var ordered = await ApiServer.ExpectProblemAsync(
            await server.User(1).PostJsonAsync("/orders", new { items = new[] { new { productId = 1, quantity = 1_000_001 } } }),
            HttpStatusCode.BadRequest,
            "InvalidQuantity");
        var carted = await ApiServer.ExpectProblemAsync(
            await server.User(1).PostJsonAsync("/users/1/cart/items", new { productId = 1, quantity = 1_000_001 }), HttpStatusCode.BadRequest, "InvalidQuantity");

        AssertDetail("The quantity of a line may be at most 1000000, but would be 1000001.", ordered);
        AssertDetail("The quantity of a line may be at most 1000000, but would be 1000001.", carted);
    }

    [Fact]
    public async Task An_order_or_a_cart_with_more_products_than_the_most_names_the_most()
    {
        await using var server = await ApiServer.StartWithServicesAsync(services => services.AddCommerce(o => o.MaxOrderLines = 2));
        for (var id = 1; id <= 3; id++)
        {
            await server.AddProductAsync(id, $"Product {id}", 1, 10);
        }

        await server.ChargeAsync(1, 1_000);
        var lines = Enumerable.Range(1, 3).Select(id => new { productId = id, quantity = 1 }).ToArray();
        var ordered = await ApiServer.ExpectProblemAsync(
            await server.User(1).PostJsonAsync("/orders", new { items = lines }), HttpStatusCode.BadRequest, "TooManyLines");
        for (var id = 1; id <= 2; id++)
        {
            await ApiServer.ExpectAsync(await server.User(1).PostJsonAsync("/users/1/cart/items", new { productId = id, quantity = 1 }), HttpStatusCode.OK);
        }

        var carted = await ApiServer.ExpectProblemAsync(
            await server.User(1).PostJsonAsync("/users/1/cart/items", new { productId = 3, quantity = 1 }), HttpStatusCode.BadRequest, "TooManyLines");

        AssertDetail("An order may have at most 2 distinct products, but had 3.", ordered);
        AssertDetail("A cart may hold at most 2 distinct products (as an order); remove one, or add units of a product it holds.", carted);
    }

    [Fact]
    public async Task A_write_that_kept_conflicting_says_how_often_it_was_tried()
    {
        await using var server = await ApiServer.StartWithServicesAsync(services => RefuseEveryCommit(services, () => null));

        var problem = await ApiServer.ExpectProblemAsync(
            await server.User(1).PostJsonAsync("/users/1/balance/charge", new { amount = 100 }), HttpStatusCode.Conflict, "ConcurrencyConflict");

        AssertDetail("Charge gave up after 2 attempts, the last conflicting with concurrent operations; nothing was changed.", problem);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_write_the_store_refused_is_a_503_that_says_to_retry_later_as_a_refused_read_is(bool retryable)
    {
        await using var server = await ApiServer.StartWithServicesAsync(services => RefuseEveryCommit(
            services, () => new StoreUnavailableException("53300: too many clients", new InvalidOperationException("refused"), retryable)));

        var response = await server.User(1).PostJsonAsync("/users/1/balance/charge", new { amount = 100 });

        var problem = await ApiServer.ExpectProblemAsync(response, HttpStatusCode.ServiceUnavailable, "StoreUnavailable");
        AssertDetail("The store is unavailable for now; nothing was changed. Retry later.", problem);
        Assert.Equal("1", response.Headers.RetryAfter?.ToString());
    }

    private static void AssertDetail(string expected, JsonElement problem)
    {
        var detail = problem.GetProperty("detail").GetString();
        Assert.DoesNotContain("CommerceOptions", detail, StringComparison.Ordinal);
        Assert.Equal(expected, detail);
    }

    /// <summary>
    /// Serves the library from the in-memory store with every commit refused: as a conflict when
    /// <paramref name="refusal"/> gives none, else by throwing it; two attempts per write.
    /// </summary>
    private static void RefuseEveryCommit(IServiceCollection services, Func<Exception?> refusal)
    {
        services.AddCommerce(o => o.MaxCommitAttempts = 2);
        var store = services.Last(d => d.ServiceType == typeof(ICommerceStore) && !d.IsKeyedService);
        var open = store.ImplementationFactory ?? throw new InvalidOperationException("The in-memory store is registered by a factory.");
        services.Remove(store);
        services.AddSingleton<ICommerceStore>(sp => new RefusingStore((ICommerceStore)open(sp), refusal));
    }

    private sealed class RefusingStore(ICommerceStore inner, Func<Exception?> refusal) : ICommerceStore
    {
        public async ValueTask<IStoreSession> OpenSessionAsync(CancellationToken cancellationToken = default) =>
            new Session(await inner.OpenSessionAsync(cancellationToken), refusal);

        private sealed class Session(IStoreSession inner, Func<Exception?> refusal) : IStoreSession
        {
            public ValueTask ReadAsync(ReadBatch batch, CancellationToken cancellationToken = default) => inner.ReadAsync(batch, cancellationToken);

            public ValueTask<ProductRange> ReadProductsAsync(ProductId? after, int limit, ReadBatch rows, CancellationToken cancellationToken = default) =>
                inner.ReadProductsAsync(after, limit, rows, cancellationToken);

            public ValueTask<SalesTop> ReadTopSalesAsync(long firstBucket, long endBucket, int count, ReadBatch rows, CancellationToken cancellationToken = default) =>
                inner.ReadTopSalesAsync(firstBucket, endBucket, count, rows, cancellationToken);

            public ValueTask<int> PurgeIdempotencyAsync(DateTimeOffset createdBefore, CancellationToken cancellationToken = default) =>
                inner.PurgeIdempotencyAsync(createdBefore, cancellationToken);

            public ValueTask<bool> CommitAsync(ChangeSet changes, CancellationToken cancellationToken = default) =>
                refusal() is { } refused ? ValueTask.FromException<bool>(refused) : ValueTask.FromResult(false);

            public ValueTask DisposeAsync() => inner.DisposeAsync();
        }
    }
}
