using Commerce.Conformance.Model;
using FsCheck;
using FsCheck.Fluent;
using Microsoft.FSharp.Core;

namespace Commerce.Conformance;

/// <summary>
/// Model-based: random command lists run against the real services on the store under test and against
/// <see cref="ShopModel"/>, a plain sequential program of the documented rules; every answer (value, or
/// error code and the products it names) and the whole observable state agree after every command. A
/// failing list shrinks to a short one.
/// </summary>
public abstract class ModelConformanceTests : CommerceConformanceTests
{
    /// <summary>The generator's seed: every run checks the same lists, so a failure reproduces.</summary>
    private static readonly Rnd Seed = new(20261124, 1442695040888963407);

    /// <summary>
    /// How many command lists the property runs, each on a fresh shop. Each command is followed by a
    /// dozen reads of the whole state, so a store whose calls are round trips to a server keeps the
    /// default; a fast store can raise it.
    /// </summary>
    protected virtual int ModelCases => 30;

    /// <summary>The longest command list (the generator's size grows to it over the cases).</summary>
    protected virtual int ModelMaxCommands => 40;

    [StoreFact]
    public void Random_command_lists_agree_with_the_sequential_model()
    {
        var config = Config.QuickThrowOnFailure
            .WithMaxTest(ModelCases)
            .WithEndSize(ModelMaxCommands)
            .WithQuietOnSuccess(true)
            .WithReplay(FSharpOption<Replay>.Some(new Replay(Seed, FSharpOption<int>.None)));
        Check.One(config, Prop.ForAll(CommandGenerators.Arbitrary, commands =>
        {
            using var shop = CreateShop(CommandGenerators.Limits);
            new ModelRunner(shop).Run(commands);
        }));
    }

    [StoreFact]
    public async Task A_scenario_through_every_branch_agrees_with_the_model()
    {
        using var shop = CreateShop(CommandGenerators.Limits);
        await new ModelRunner(shop).RunAsync(
        [
            new Command.PlaceOrder(1, []),
            new Command.AddProduct(1, "Apple", 10, 5),
            new Command.AddProduct(1, "Apple", 10, 5),
            new Command.AddProduct(2, "", 10, 5),
            new Command.AddProduct(2, "Elevenchars", 10, 5),
            new Command.AddProduct(2, "Pear", -1, 5),
            new Command.AddProduct(2, "Pear", 7, -1),
            new Command.AddProduct(2, "Pear", long.MaxValue, 1),
            new Command.PlaceOrder(1, [(1, 1)]),
            new Command.Charge(1, 0),
            new Command.Charge(1, 1001),
            new Command.Charge(1, 1000),
            new Command.Charge(1, 1000),
            new Command.Charge(1, 1000),
            new Command.Charge(1, 1),
            new Command.GetBalance(1),
            new Command.PlaceOrder(1, [(1, 0)]),
            new Command.PlaceOrder(1, [(1, 20), (1, 11)]),
            new Command.PlaceOrder(1, [(1, 1), (2, 1), (3, 1), (4, 1)]),
            new Command.PlaceOrder(1, [(4, 1), (3, 1)]),
            new Command.PlaceOrder(1, [(2, 2)]),
            new Command.PlaceOrder(1, [(1, 6)]),
            new Command.PlaceOrder(1, [(1, 3), (1, 2)]),
            new Command.GetOrder(0),
            new Command.GetOrder(5),
            new Command.Restock(1, 0),
            new Command.Restock(9, 1),
            new Command.Restock(1, int.MaxValue),
            new Command.Restock(1, 4),
            new Command.GetProduct(1),
            new Command.GetProduct(3),
            new Command.AddProduct(3, "Plum", 1, 0),
            new Command.ListProducts(null, 2),
            new Command.ListProducts(1, 1),
            new Command.ListProducts(3, 3),
            new Command.AddCartItem(2, 9, 1),
            new Command.AddCartItem(2, 1, 0),
            new Command.AddCartItem(2, 1, 31),
            new Command.AddCartItem(2, 1, 1),
            new Command.AddCartItem(2, 2, 2),
            new Command.AddCartItem(3, 2, 1),
            new Command.RemoveCartItem(2, 3),
            new Command.RemoveCartItem(1, 1),
            new Command.RemoveCartItem(2, 1),
            new Command.AdvanceTime(TimeSpan.FromMinutes(1)),
            new Command.QueryRanking(1, TimeSpan.FromMinutes(1)),
            new Command.QueryRanking(5, TimeSpan.FromMinutes(2)),
            new Command.PlaceOrder(1, [(3, 0)]),
            new Command.PlaceOrder(1, [(1, 2)]),
            new Command.AdvanceTime(TimeSpan.FromDays(3)),
            new Command.QueryRanking(5, TimeSpan.FromDays(3)),
            new Command.QueryRanking(5, TimeSpan.FromDays(366)),
        ]);
    }
}
