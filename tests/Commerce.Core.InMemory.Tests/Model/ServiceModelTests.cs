using Commerce.Conformance;
using Commerce.Conformance.Model;
using Commerce.InMemory.Tests.Support;
using Commerce.Storage;
using FsCheck;
using FsCheck.Fluent;

namespace Commerce.InMemory.Tests.Model;

/// <summary>
/// Checks of the conformance suite's sequential model (<see cref="ShopModel"/>, run against every store
/// by <c>ModelConformanceTests</c>) that only the in-memory store can afford or arrange: that it catches
/// a broken store, and that its generated lists reach every outcome.
/// </summary>
public sealed class ServiceModelTests
{
    [Fact]
    public void Model_check_catches_a_store_that_loses_committed_sales()
    {
        var (caught, first) = RunAgainst(store => new WrappedStore(store, Fault.SalesNotRecorded));

        Assert.True(caught > 0, "No generated command list exposed a store whose ranking misses placed orders.");
        Assert.Contains("sold=", first, StringComparison.Ordinal);
    }

    [Fact]
    public void Model_check_catches_a_store_that_forgets_idempotency_keys_before_their_retention()
    {
        var (caught, first) = RunAgainst(store => new EagerPurgeStore(store, CommandGenerators.Retention));

        Assert.True(caught > 0, "No generated command list exposed a store that forgets keys a quarter of the retention after they were stored.");
        Assert.Contains("Keyed", first, StringComparison.Ordinal);
    }

    /// <summary>Runs generated lists against a broken store: how many the model check failed, and the first failure.</summary>
    private static (int Caught, string? First) RunAgainst(Func<InMemoryCommerceStore, ICommerceStore> broken)
    {
        var caught = 0;
        string? first = null;
        foreach (var commands in CommandGenerators.Lists.Sample(60, new Rnd(7), 50))
        {
            using var shop = InMemoryShop.Create(CommandGenerators.Limits, broken);
            try
            {
                new ModelRunner(shop).Run(commands);
            }
            catch (Xunit.Sdk.XunitException e)
            {
                caught++;
                first ??= e.Message;
            }
        }

        return (caught, first);
    }

    [Fact]
    public void Generated_command_lists_reach_every_outcome_of_every_command_and_every_sequential_error_code()
    {
        var seen = new HashSet<string>();
        foreach (var commands in CommandGenerators.Lists.Sample(60, new Rnd(20261124), 200))
        {
            using var shop = InMemoryShop.Create(CommandGenerators.Limits);
            var runner = new ModelRunner(shop);
            runner.Run(commands);
            seen.UnionWith(runner.Outcomes);
        }

        string[] expected =
        [
            "Charge: ok", "Charge: error InvalidAmount", "Charge: error ChargeLimitExceeded", "Charge: error BalanceLimitExceeded",
            "KeyedCharge: ok", "KeyedCharge: ok replayed", "KeyedCharge: ok after expiry",
            "KeyedCharge: error InvalidIdempotencyKey", "KeyedCharge: error InvalidAmount", "KeyedCharge: error ChargeLimitExceeded",
            "KeyedCharge: error BalanceLimitExceeded", "KeyedCharge: error BalanceLimitExceeded replayed", "KeyedCharge: error IdempotencyKeyReused",
            "GetBalance: ok", "GetLedger: ok",
            "AddProduct: ok", "AddProduct: error InvalidProductName", "AddProduct: error InvalidAmount", "AddProduct: error InvalidQuantity", "AddProduct: error ProductAlreadyExists",
            "Restock: ok", "Restock: error InvalidQuantity", "Restock: error ProductNotFound",
            "GetProduct: ok", "GetProduct: error ProductNotFound",
            "ListProducts: ok",
            "AddCartItem: ok", "AddCartItem: error InvalidQuantity", "AddCartItem: error ProductNotFound",
            "RemoveCartItem: ok", "RemoveCartItem: error CartItemNotFound",
            "PlaceOrder: ok", "PlaceOrder: error EmptyOrder", "PlaceOrder: error InvalidQuantity", "PlaceOrder: error TooManyLines", "PlaceOrder: error ProductNotFound",
            "PlaceOrder: error AmountOverflow", "PlaceOrder: error InsufficientBalance", "PlaceOrder: error InsufficientStock",
            "KeyedOrder: ok", "KeyedOrder: ok replayed", "KeyedOrder: ok after expiry",
            "KeyedOrder: error InvalidIdempotencyKey", "KeyedOrder: error EmptyOrder", "KeyedOrder: error InvalidQuantity", "KeyedOrder: error TooManyLines",
            "KeyedOrder: error ProductNotFound", "KeyedOrder: error ProductNotFound replayed", "KeyedOrder: error AmountOverflow",
            "KeyedOrder: error InsufficientBalance", "KeyedOrder: error InsufficientStock", "KeyedOrder: error IdempotencyKeyReused",
            "Checkout: ok", "Checkout: error EmptyOrder", "Checkout: error InsufficientBalance", "Checkout: error InsufficientStock",
            "KeyedCheckout: ok", "KeyedCheckout: ok replayed", "KeyedCheckout: ok after expiry", "KeyedCheckout: error InvalidIdempotencyKey",
            "KeyedCheckout: error EmptyOrder", "KeyedCheckout: error EmptyOrder replayed", "KeyedCheckout: error InsufficientBalance",
            "KeyedCheckout: error InsufficientBalance replayed", "KeyedCheckout: error InsufficientStock", "KeyedCheckout: error InsufficientStock replayed",
            "GetOrder: ok", "GetOrder: error OrderNotFound",
            "CancelOrder: ok", "CancelOrder: error OrderNotFound", "CancelOrder: error OrderAlreadyCancelled", "CancelOrder: error BalanceLimitExceeded",
            "ListOrders: ok",
            "QueryRanking: ok", "AdvanceTime: ok",
        ];
        Assert.All(expected, e => Assert.Contains(e, seen));

        // Every code a sequential run can give (a conflict needs a concurrent one; the in-memory store never refuses).
        var codes = seen
            .Where(s => s.Contains(": error ", StringComparison.Ordinal))
            .Select(s => Enum.Parse<CommerceErrorCode>(s[(s.IndexOf(": error ", StringComparison.Ordinal) + 8)..].Split(' ')[0]))
            .ToHashSet();
        Assert.Equal(Enum.GetValues<CommerceErrorCode>().Except([CommerceErrorCode.ConcurrencyConflict, CommerceErrorCode.StoreUnavailable]).Order(), codes.Order());
    }

    /// <summary>
    /// A store whose purge of idempotency records also takes the live ones: every record older than the
    /// purge's own time goes, not only those older than the retention.
    /// </summary>
    private sealed class EagerPurgeStore(ICommerceStore inner, TimeSpan retention) : ICommerceStore
    {
        public async ValueTask<IStoreSession> OpenSessionAsync(CancellationToken cancellationToken = default) =>
            new Session(await inner.OpenSessionAsync(cancellationToken), retention);

        private sealed class Session(IStoreSession session, TimeSpan retention) : DelegatingStoreSession(session)
        {
            public override ValueTask<int> PurgeIdempotencyAsync(DateTimeOffset createdBefore, CancellationToken cancellationToken = default) =>
                Inner.PurgeIdempotencyAsync(createdBefore + retention, cancellationToken);
        }
    }
}
