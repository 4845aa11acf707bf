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

    /// <summary>How many command lists the property with the clock set back and ahead runs, each on a fresh shop.</summary>
    protected virtual int ClockCases => 8;

    /// <summary>The longest command list of the property with the clock set back and ahead.</summary>
    protected virtual int ClockMaxCommands => 25;

    [StoreFact]
    public void Random_command_lists_with_the_clock_set_back_and_ahead_agree_with_the_sequential_model()
    {
        var config = Config.QuickThrowOnFailure
            .WithMaxTest(ClockCases)
            .WithEndSize(ClockMaxCommands)
            .WithQuietOnSuccess(true)
            .WithReplay(FSharpOption<Replay>.Some(new Replay(ClockSeed, FSharpOption<int>.None)));
        Check.One(config, Prop.ForAll(CommandGenerators.WithClockSet, commands =>
        {
            using var shop = CreateShop(CommandGenerators.Limits);
            new ModelRunner(shop).Run(commands);
        }));
    }

    /// <summary>The seed of the lists with the clock set back and ahead.</summary>
    private static readonly Rnd ClockSeed = new(20261206, 1442695040888963407);

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

    [StoreFact]
    public async Task A_scenario_through_every_branch_of_keys_cancels_checkouts_and_ledgers_agrees_with_the_model()
    {
        using var shop = CreateShop(CommandGenerators.Limits);
        var runner = new ModelRunner(shop);
        var tooLong = new string('k', IdempotencyKey.MaxLength + 1);
        var longest = new string('~', IdempotencyKey.MaxLength);
        await runner.RunAsync(
        [
            new Command.AddProduct(1, "Apple", 10, 5),
            new Command.AddProduct(2, "Pear", 0, 3),
            new Command.AddProduct(4, "Fig", 1000, 3),

            // Keys are checked first, then what needs no state (not stored), then the key's record.
            new Command.KeyedCharge(1, 100, null),
            new Command.KeyedCharge(1, 100, ""),
            new Command.KeyedCharge(1, 100, "é"),
            new Command.KeyedCharge(1, 0, tooLong),
            new Command.KeyedOrder(1, [], "tab\t"),
            new Command.KeyedCheckout(1, null),
            new Command.KeyedCharge(1, 0, "a"),
            new Command.KeyedCharge(1, 1001, "a"),
            new Command.KeyedCharge(1, 1000, "a"),
            new Command.KeyedCharge(1, 1000, "a"),
            new Command.KeyedCharge(1, 400, "a"),
            new Command.KeyedCharge(2, 1000, "a"),
            new Command.KeyedCharge(1, 1000, longest),
            new Command.KeyedCharge(1, 1000, " "),
            new Command.KeyedCharge(1, 1000, "b"),
            new Command.PlaceOrder(1, [(4, 2)]),
            new Command.KeyedCharge(1, 1000, "b"),

            // Orders: keyed by their merged lines, in order; refusals that read state are stored.
            new Command.KeyedOrder(1, [(1, 1), (1, 1)], "a"),
            new Command.KeyedOrder(1, [(1, 2)], "a"),
            new Command.KeyedOrder(1, [(1, 1), (2, 1)], "a"),
            new Command.KeyedOrder(1, [], "a"),
            new Command.KeyedOrder(1, [(1, 31)], "a"),
            new Command.KeyedOrder(1, [(1, 1), (2, 1), (3, 1), (4, 1)], "c"),
            new Command.KeyedOrder(1, [(3, 1)], "c"),
            new Command.AddProduct(3, "Plum", 7, int.MaxValue - 5),
            new Command.KeyedOrder(1, [(3, 1)], "c"),
            new Command.KeyedOrder(1, [(1, 1), (2, 1)], "b"),
            new Command.KeyedOrder(1, [(2, 1), (1, 1)], "b"),
            new Command.KeyedOrder(3, [(1, 1)], "a"),
            new Command.Charge(3, 50),
            new Command.KeyedOrder(3, [(1, 1)], "a"),
            new Command.PlaceOrder(3, [(2, 1)]),

            // Cancels: a free order moves no money; twice; unknown; a refund; a replay shows the cancel.
            new Command.AdvanceTime(TimeSpan.FromMinutes(1)),
            new Command.CancelOrder(3),
            new Command.CancelOrder(3),
            new Command.CancelOrder(99),
            new Command.CancelOrder(1),
            new Command.KeyedOrder(1, [(1, 2)], "a"),
            new Command.GetOrder(1),
            new Command.PlaceOrder(2, [(4, 1)]),
            new Command.Charge(2, 1000),
            new Command.Charge(2, 1000),
            new Command.Charge(2, 1000),
            new Command.CancelOrder(4),
            new Command.PlaceOrder(1, [(3, 2)]),
            new Command.Restock(3, 7),
            new Command.CancelOrder(5),

            // Checkouts, plain and keyed; a refusal leaves the cart. A cart takes no more products than an order may have.
            new Command.Checkout(2),
            new Command.AddCartItem(2, 1, 1),
            new Command.AddCartItem(2, 2, 1),
            new Command.AddCartItem(2, 3, 1),
            new Command.AddCartItem(2, 4, 1),
            new Command.RemoveCartItem(2, 3),
            new Command.AddCartItem(2, 4, 1),
            new Command.KeyedCheckout(2, "a"),
            new Command.KeyedCheckout(2, "a"),
            new Command.KeyedCheckout(2, "b"),
            new Command.Restock(4, 2),
            new Command.KeyedCheckout(2, "b"),
            new Command.KeyedCheckout(2, "c"),
            new Command.KeyedCheckout(2, "c"),
            new Command.AddCartItem(2, 1, 1),
            new Command.KeyedCheckout(2, "c"),
            new Command.Checkout(2),
            new Command.AddCartItem(3, 4, 1),
            new Command.Checkout(3),
            new Command.KeyedCheckout(3, "a"),

            // Ledger pages and order lists.
            new Command.GetLedger(1, 0, 2),
            new Command.GetLedger(1, 2, 2),
            new Command.GetLedger(1, 5, 1000),
            new Command.GetLedger(1, long.MaxValue - 1, 1000),
            new Command.GetLedger(1, long.MaxValue, 1),
            new Command.GetLedger(9, 0, 5),
            new Command.ListOrders(1, 1),
            new Command.ListOrders(1, 1000),
            new Command.ListOrders(3, 2),
            new Command.ListOrders(9, 3),

            // Expiry: a record answers until the retention has passed, then the key runs afresh.
            new Command.KeyedCharge(3, 100, "a"),
            new Command.AdvanceTime(CommandGenerators.Retention - TimeSpan.FromSeconds(1)),
            new Command.KeyedCharge(3, 100, "a"),
            new Command.KeyedCheckout(3, "a"),
            new Command.AdvanceTime(TimeSpan.FromSeconds(1)),
            new Command.KeyedCharge(3, 100, "a"),
            new Command.KeyedCharge(3, 200, "a"),
            new Command.KeyedCheckout(3, "a"),
            new Command.AdvanceTime(TimeSpan.FromDays(2)),
            new Command.KeyedCharge(3, 200, "a"),
            new Command.KeyedCharge(1, 1000, "b"),
            new Command.KeyedOrder(1, [(1, 2)], "a"),
            new Command.KeyedOrder(1, [(2, 1), (1, 1)], "b"),
            new Command.QueryRanking(5, TimeSpan.FromDays(3)),
        ]);

        // The list went through the branches it was written for.
        string[] branches =
        [
            "KeyedCharge: error InvalidIdempotencyKey", "KeyedOrder: error InvalidIdempotencyKey", "KeyedCheckout: error InvalidIdempotencyKey",
            "KeyedCharge: error InvalidAmount", "KeyedCharge: error ChargeLimitExceeded", "KeyedCharge: ok replayed", "KeyedCharge: error IdempotencyKeyReused",
            "KeyedCharge: error BalanceLimitExceeded replayed", "KeyedCharge: ok after expiry",
            "KeyedOrder: ok replayed", "KeyedOrder: error IdempotencyKeyReused", "KeyedOrder: error EmptyOrder", "KeyedOrder: error InvalidQuantity",
            "KeyedOrder: error TooManyLines", "KeyedOrder: error ProductNotFound replayed", "KeyedOrder: error InsufficientBalance replayed", "KeyedOrder: ok after expiry",
            "CancelOrder: ok", "CancelOrder: error OrderAlreadyCancelled", "CancelOrder: error OrderNotFound", "CancelOrder: error BalanceLimitExceeded",
            "CancelOrder: error InvalidQuantity",
            "AddCartItem: error TooManyLines",
            "Checkout: error EmptyOrder", "Checkout: ok", "Checkout: error InsufficientBalance",
            "KeyedCheckout: error InsufficientStock replayed", "KeyedCheckout: ok replayed",
            "KeyedCheckout: error InsufficientBalance replayed", "KeyedCheckout: error InsufficientBalance after expiry",
        ];
        Assert.All(branches, b => Assert.Contains(b, runner.Outcomes));
    }
}
