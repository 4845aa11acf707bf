using Commerce.Conformance.Model;
using Commerce.InMemory.Tests.Support;
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
        var caught = 0;
        string? first = null;
        foreach (var commands in CommandGenerators.Lists.Sample(60, new Rnd(7), 50))
        {
            using var shop = InMemoryShop.Create(CommandGenerators.Limits, store => new WrappedStore(store, Fault.SalesNotRecorded));
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

        Assert.True(caught > 0, "No generated command list exposed a store whose ranking misses placed orders.");
        Assert.Contains("sold=", first, StringComparison.Ordinal);
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
            "GetBalance: ok",
            "AddProduct: ok", "AddProduct: error InvalidProductName", "AddProduct: error InvalidAmount", "AddProduct: error InvalidQuantity", "AddProduct: error ProductAlreadyExists",
            "Restock: ok", "Restock: error InvalidQuantity", "Restock: error ProductNotFound",
            "GetProduct: ok", "GetProduct: error ProductNotFound",
            "ListProducts: ok",
            "AddCartItem: ok", "AddCartItem: error InvalidQuantity", "AddCartItem: error ProductNotFound",
            "RemoveCartItem: ok", "RemoveCartItem: error CartItemNotFound",
            "PlaceOrder: ok", "PlaceOrder: error EmptyOrder", "PlaceOrder: error InvalidQuantity", "PlaceOrder: error TooManyLines", "PlaceOrder: error ProductNotFound",
            "PlaceOrder: error AmountOverflow", "PlaceOrder: error InsufficientBalance", "PlaceOrder: error InsufficientStock",
            "GetOrder: ok", "GetOrder: error OrderNotFound",
            "QueryRanking: ok", "AdvanceTime: ok",
        ];
        Assert.All(expected, e => Assert.Contains(e, seen));

        // Every code a sequential run can give (a conflict needs a concurrent one).
        var codes = seen.Where(s => s.Contains(": error ", StringComparison.Ordinal)).Select(s => Enum.Parse<CommerceErrorCode>(s[(s.IndexOf(": error ", StringComparison.Ordinal) + 8)..])).ToHashSet();
        CommerceErrorCode[] notModelled = [CommerceErrorCode.ConcurrencyConflict, CommerceErrorCode.IdempotencyKeyReused, CommerceErrorCode.InvalidIdempotencyKey, CommerceErrorCode.OrderAlreadyCancelled];
        Assert.Equal(Enum.GetValues<CommerceErrorCode>().Except(notModelled).Order(), codes.Order());
    }
}
