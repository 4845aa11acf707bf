using FsCheck;
using FsCheck.Fluent;

namespace Commerce.Conformance.Model;

/// <summary>
/// Random command lists over a few users and products, so that commands collide often, with values
/// biased to the edges so that every refusal is reached.
/// </summary>
public static class CommandGenerators
{
    /// <summary>Users are 1 to this.</summary>
    public const int Users = 3;

    /// <summary>Products are 1 to this.</summary>
    public const int Products = 4;

    /// <summary>Limits small enough that generated commands reach every refusal; configure the shop under test with them.</summary>
    public static void Limits(CommerceOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.MaxChargeAmount = new Money(1000);
        options.MaxBalance = new Money(3000);
        options.MaxLineQuantity = 30;
        options.MaxOrderLines = 3;
        options.MaxProductNameLength = 10;
        options.IdempotencyRetention = Retention;
    }

    /// <summary>How long keyed outcomes are kept in the shop under test: some generated clock moves pass it, some stop short.</summary>
    public static readonly TimeSpan Retention = TimeSpan.FromHours(1);

    private static Gen<long> User => Gen.Choose(1, Users).Select(u => (long)u);

    private static Gen<long> Product => Gen.Choose(1, Products).Select(p => (long)p);

    private static Gen<int> Quantity => Gen.Frequency((8, Gen.Choose(1, 12)), (1, Gen.Elements(0, -1, 30, 31, int.MaxValue)));

    private static readonly Gen<Command> Charge =
        from user in User
        from amount in Gen.Frequency((8, Gen.Choose(1, 1000).Select(a => (long)a)), (1, Gen.Elements(0L, -5L, 1000L, 1001L, 3000L, long.MaxValue)))
        select (Command)new Command.Charge(user, amount);

    private static readonly Gen<Command> AddProduct =
        from product in Product
        from name in Gen.Frequency((8, Gen.Elements("Apple", "Pear", "Plum")), (1, Gen.Elements("", "   ", "Elevenchars", "Nul\0")))
        from price in Gen.Frequency((8, Gen.Choose(0, 100).Select(p => (long)p)), (1, Gen.Elements(-1L, long.MaxValue / 2, long.MaxValue)))
        from stock in Gen.Frequency((8, Gen.Choose(0, 20)), (1, Gen.Elements(-1, int.MaxValue - 5)))
        select (Command)new Command.AddProduct(product, name, price, stock);

    private static readonly Gen<Command> ListProducts =
        from after in Gen.Frequency((1, Gen.Constant((long?)null)), (2, Gen.Choose(0, Products + 1).Select(p => (long?)p)))
        from limit in Gen.Choose(1, 3)
        select (Command)new Command.ListProducts(after, limit);

    private static Gen<(long, int)[]> Lines => Gen.Zip(Product, Quantity).Select(t => (t.Item1, t.Item2)).ArrayOf().Resize(5);

    private static readonly Gen<Command> PlaceOrder =
        from user in User
        from lines in Lines
        select (Command)new Command.PlaceOrder(user, lines);

    /// <summary>
    /// A few keys per operation, so that a key is often used again (for the same request or another);
    /// sometimes an invalid one (absent, empty, too long, not printable ASCII) or a valid one at the edges.
    /// </summary>
    private static Gen<string?> Key => Gen.Frequency(
        (12, Gen.Elements<string?>("a", "b", "c")),
        (1, Gen.Elements<string?>(null, "", "é", "tab\t", new string('k', IdempotencyKey.MaxLength + 1))),
        (1, Gen.Elements<string?>(" ", "A", new string('~', IdempotencyKey.MaxLength))));

    /// <summary>
    /// Mostly the amount that goes with the key, so that a repeated key usually repeats its request; sometimes
    /// another amount (a reuse) or one refused before the key is looked up.
    /// </summary>
    private static readonly Gen<Command> KeyedCharge =
        from user in User
        from key in Key
        from amount in Gen.Frequency(
            (6, Gen.Constant(key switch { "a" => 100L, "b" => 400L, _ => 1000L })),
            (2, Gen.Elements(100L, 400L, 1000L)),
            (1, Gen.Elements(0L, -5L, 1001L)))
        select (Command)new Command.KeyedCharge(user, amount, key);

    /// <summary>
    /// Mostly the lines that go with the key, written in one of two ways that merge to the same request, so
    /// that a repeated key usually repeats its request; sometimes lines that differ only in the order of
    /// their products, other fixed lines, or any lines (reuses, and refusals that need no state).
    /// </summary>
    private static readonly Gen<Command> KeyedOrder =
        from user in User
        from key in Key
        from lines in Gen.Frequency(
            (6, key switch
            {
                "a" => Gen.Elements<(long, int)[]>([(1, 2)], [(1, 1), (1, 1)]),
                "b" => Gen.Elements<(long, int)[]>([(1, 2), (2, 1)], [(1, 1), (2, 1), (1, 1)]),
                _ => Gen.Elements<(long, int)[]>([(3, 2)], [(3, 1), (3, 1)]),
            }),
            (2, Gen.Elements<(long, int)[]>([(2, 1), (1, 2)], [(4, 1), (2, 3)], [(1, 2)], [(3, 2)])),
            (1, Lines))
        select (Command)new Command.KeyedOrder(user, lines, key);

    private static readonly Gen<Command> GetLedger =
        from user in User
        from after in Gen.Frequency((6, Gen.Choose(0, 6).Select(a => (long)a)), (1, Gen.Elements(long.MaxValue - 1, long.MaxValue)))
        from limit in Gen.Frequency((6, Gen.Choose(1, 4)), (1, Gen.Constant(1000)))
        select (Command)new Command.GetLedger(user, after, limit);

    private static readonly Gen<Command> Any = Gen.Frequency(
        (4, Charge),
        (3, KeyedCharge),
        (1, User.Select(u => (Command)new Command.GetBalance(u))),
        (1, GetLedger),
        (3, AddProduct),
        (2, Gen.Zip(Product, Quantity).Select(t => (Command)new Command.Restock(t.Item1, t.Item2))),
        (1, Product.Select(p => (Command)new Command.GetProduct(p))),
        (1, ListProducts),
        (3, Gen.Zip(User, Product).SelectMany(t => Quantity.Select(q => (Command)new Command.AddCartItem(t.Item1, t.Item2, q)))),
        (1, Gen.Zip(User, Product).Select(t => (Command)new Command.RemoveCartItem(t.Item1, t.Item2))),
        (1, User.Select(u => (Command)new Command.Checkout(u))),
        (2, Gen.Zip(User, Key).Select(t => (Command)new Command.KeyedCheckout(t.Item1, t.Item2))),
        (5, PlaceOrder),
        (3, KeyedOrder),
        (1, Gen.Choose(0, 6).Select(i => (Command)new Command.GetOrder(i))),
        (3, Gen.Choose(0, 8).Select(i => (Command)new Command.CancelOrder(i))),
        (1, Gen.Zip(User, Gen.Elements(1, 2, 3, 1000)).Select(t => (Command)new Command.ListOrders(t.Item1, t.Item2))),
        (1, Gen.Zip(Gen.Choose(1, 5), Gen.Elements(TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(5), TimeSpan.FromHours(1), TimeSpan.FromDays(3), TimeSpan.FromDays(366)))
            .Select(t => (Command)new Command.QueryRanking(t.Item1, t.Item2))),
        (3, Gen.Frequency(
                (4, Gen.Elements(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(59), TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(4))),
                (3, Gen.Elements(TimeSpan.FromMinutes(16), TimeSpan.FromMinutes(30))),
                (2, Gen.Elements(Retention - TimeSpan.FromSeconds(1), Retention, TimeSpan.FromDays(1), TimeSpan.FromDays(2))))
            .Select(by => (Command)new Command.AdvanceTime(by))));

    /// <summary>
    /// After how many further commands a keyed call is retried, as a client that lost the answer would:
    /// mostly never, else once or twice, each after 0 to 6 commands.
    /// </summary>
    private static readonly Gen<int[]> RetriesAfter = Gen.Frequency(
        (3, Gen.Constant(Array.Empty<int>())),
        (2, Gen.Choose(0, 6).ArrayOf(1)),
        (1, Gen.Choose(0, 6).ArrayOf(2)));

    /// <summary>Command lists about as long as the generator's size, with some keyed calls repeated a little later.</summary>
    public static readonly Gen<Command[]> Lists = Gen.Zip(Any, RetriesAfter).ArrayOf().Select(WithRetries);

    private static Command[] WithRetries((Command Command, int[] RetriesAfter)[] drawn)
    {
        var commands = new List<Command>();
        var retries = new List<(int At, Command Command)>();
        for (var i = 0; i < drawn.Length; i++)
        {
            var (command, retriesAfter) = drawn[i];
            commands.Add(command);
            if (command is Command.KeyedCharge or Command.KeyedOrder or Command.KeyedCheckout)
            {
                retries.AddRange(retriesAfter.Select(after => (i + after, command)));
            }

            commands.AddRange(retries.Where(r => r.At == i).Select(r => r.Command));
        }

        commands.AddRange(retries.Where(r => r.At >= drawn.Length).Select(r => r.Command));
        return [.. commands];
    }

    /// <summary>Command lists that shrink by dropping commands and by dropping order lines.</summary>
    public static readonly Arbitrary<Command[]> Arbitrary = Arb.From(Lists, commands => Shrink.List(commands, Simpler));

    /// <summary>
    /// The clock set back or ahead: by a minute or an hour either way, back a day or three (past the ranking's
    /// default window), ahead two days.
    /// </summary>
    private static readonly Gen<Command> SetClock = Gen.Elements(
            TimeSpan.FromMinutes(-1), TimeSpan.FromMinutes(1), TimeSpan.FromHours(-1), TimeSpan.FromHours(1),
            TimeSpan.FromDays(-1), TimeSpan.FromDays(-3), TimeSpan.FromDays(2))
        .Select(by => (Command)new Command.SetClock(by));

    /// <summary>
    /// Command lists without idempotency keys (whose purges go by the time that really passed, which a fake clock
    /// set back takes back too) in which the clock is also set back and ahead.
    /// </summary>
    public static readonly Arbitrary<Command[]> WithClockSet = Arb.From(
        Gen.Frequency((8, Any.Where(c => c is not (Command.KeyedCharge or Command.KeyedOrder or Command.KeyedCheckout))), (1, SetClock)).ArrayOf(),
        commands => Shrink.List(commands, Simpler));

    private static IEnumerable<Command> Simpler(Command command)
    {
        if (command is Command.PlaceOrder { Lines.Length: > 1 } order)
        {
            foreach (var lines in Shrink.List(order.Lines))
            {
                yield return order with { Lines = lines };
            }
        }

        if (command is Command.KeyedOrder { Lines.Length: > 1 } keyed)
        {
            foreach (var lines in Shrink.List(keyed.Lines))
            {
                yield return keyed with { Lines = lines };
            }
        }
    }
}
