using Commerce.InMemory.Tests.Support;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;

namespace Commerce.InMemory.Tests.Model;

/// <summary>
/// Model-based: random command lists run against the real services over the in-memory store and against
/// <see cref="ShopModel"/>; every answer (value or error code) and the whole observable state agree after
/// every command. A failing list shrinks to a short one.
/// </summary>
public sealed class ServiceModelTests
{
    [Property(MaxTest = 200, EndSize = 60)]
    public Property Services_answer_and_hold_state_exactly_as_the_sequential_model_does() =>
        Prop.ForAll(CommandGenerators.Arbitrary, commands =>
        {
            using var shop = new Shop(CommandGenerators.Limits);
            new ModelRunner(shop).Run(commands);
        });

    [Fact]
    public void Model_check_catches_a_store_that_loses_committed_sales()
    {
        var caught = 0;
        string? first = null;
        foreach (var commands in CommandGenerators.Lists.Sample(60, new Rnd(7), 50))
        {
            using var shop = new Shop(CommandGenerators.Limits, store => new WrappedStore(store, Fault.SalesNotRecorded));
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
    public void Generated_command_lists_reach_every_answer_of_every_command()
    {
        var seen = new HashSet<string>();
        foreach (var commands in CommandGenerators.Lists.Sample(60, new Rnd(20261124), 200))
        {
            using var shop = new Shop(CommandGenerators.Limits);
            var runner = new ModelRunner(shop);
            runner.Run(commands);
            seen.UnionWith(runner.Outcomes);
        }

        string[] expected =
        [
            "Charge: ok", "Charge: error InvalidAmount", "Charge: error ChargeLimitExceeded", "Charge: error BalanceLimitExceeded",
            "AddProduct: ok", "AddProduct: error InvalidProductName", "AddProduct: error InvalidAmount", "AddProduct: error InvalidQuantity", "AddProduct: error ProductAlreadyExists",
            "Restock: error InvalidQuantity", "Restock: error ProductNotFound",
            "AddCartItem: error InvalidQuantity", "AddCartItem: error ProductNotFound",
            "RemoveCartItem: error CartItemNotFound",
            "PlaceOrder: error EmptyOrder", "PlaceOrder: error InvalidQuantity", "PlaceOrder: error TooManyLines", "PlaceOrder: error ProductNotFound",
            "PlaceOrder: error AmountOverflow", "PlaceOrder: error InsufficientBalance", "PlaceOrder: error InsufficientStock",
            "GetOrder: error OrderNotFound",
        ];
        Assert.All(expected, e => Assert.Contains(e, seen));
        foreach (var command in new[] { "Restock", "AddCartItem", "RemoveCartItem", "PlaceOrder", "GetOrder" })
        {
            Assert.Contains(seen, s => s == command + ": ok");
        }
    }

    [Fact]
    public void A_scenario_through_every_branch_agrees_with_the_model()
    {
        using var shop = new Shop(CommandGenerators.Limits);
        new ModelRunner(shop).Run(
        [
            new PlaceOrder(1, []),
            new AddProduct(1, "Apple", 10, 5),
            new AddProduct(1, "Apple", 10, 5),
            new AddProduct(2, "", 10, 5),
            new AddProduct(2, "Pear", -1, 5),
            new AddProduct(2, "Pear", 7, -1),
            new AddProduct(2, "Pear", long.MaxValue, 1),
            new PlaceOrder(1, [(1, 1)]),
            new Charge(1, 0),
            new Charge(1, 1001),
            new Charge(1, 1000),
            new Charge(1, 1000),
            new Charge(1, 1000),
            new Charge(1, 1),
            new PlaceOrder(1, [(1, 0)]),
            new PlaceOrder(1, [(1, 20), (1, 11)]),
            new PlaceOrder(1, [(1, 1), (2, 1), (3, 1), (4, 1)]),
            new PlaceOrder(1, [(3, 1), (4, 1)]),
            new PlaceOrder(1, [(2, 2)]),
            new PlaceOrder(1, [(1, 6)]),
            new PlaceOrder(1, [(1, 3), (1, 2)]),
            new GetOrder(0),
            new GetOrder(5),
            new Restock(1, 0),
            new Restock(9, 1),
            new Restock(1, int.MaxValue),
            new Restock(1, 4),
            new AddCartItem(2, 9, 1),
            new AddCartItem(2, 1, 0),
            new AddCartItem(2, 1, 30),
            new AddCartItem(2, 1, 1),
            new AddCartItem(2, 2, 2),
            new RemoveCartItem(2, 3),
            new RemoveCartItem(3, 1),
            new RemoveCartItem(2, 1),
            new AdvanceTime(TimeSpan.FromMinutes(1)),
            new QueryRanking(1, TimeSpan.FromMinutes(1)),
            new QueryRanking(5, TimeSpan.FromMinutes(2)),
            new AdvanceTime(TimeSpan.FromDays(3)),
            new QueryRanking(5, TimeSpan.FromDays(3)),
        ]);
    }
}
