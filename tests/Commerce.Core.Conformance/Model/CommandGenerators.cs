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
    }

    private static Gen<long> User => Gen.Choose(1, Users).Select(u => (long)u);

    private static Gen<long> Product => Gen.Choose(1, Products).Select(p => (long)p);

    private static Gen<int> Quantity => Gen.Frequency((8, Gen.Choose(1, 12)), (1, Gen.Elements(0, -1, 30, 31, int.MaxValue)));

    private static readonly Gen<Command> Charge =
        from user in User
        from amount in Gen.Frequency((8, Gen.Choose(1, 1000).Select(a => (long)a)), (1, Gen.Elements(0L, -5L, 1000L, 1001L, 3000L, long.MaxValue)))
        select (Command)new Command.Charge(user, amount);

    private static readonly Gen<Command> AddProduct =
        from product in Product
        from name in Gen.Frequency((8, Gen.Elements("Apple", "Pear", "Plum")), (1, Gen.Elements("", "   ", "Elevenchars")))
        from price in Gen.Frequency((8, Gen.Choose(0, 100).Select(p => (long)p)), (1, Gen.Elements(-1L, long.MaxValue / 2, long.MaxValue)))
        from stock in Gen.Frequency((8, Gen.Choose(0, 20)), (1, Gen.Elements(-1, int.MaxValue - 5)))
        select (Command)new Command.AddProduct(product, name, price, stock);

    private static readonly Gen<Command> ListProducts =
        from after in Gen.Frequency((1, Gen.Constant((long?)null)), (2, Gen.Choose(0, Products + 1).Select(p => (long?)p)))
        from limit in Gen.Choose(1, 3)
        select (Command)new Command.ListProducts(after, limit);

    private static readonly Gen<Command> PlaceOrder =
        from user in User
        from lines in Gen.Zip(Product, Quantity).Select(t => (t.Item1, t.Item2)).ArrayOf().Resize(5)
        select (Command)new Command.PlaceOrder(user, lines);

    private static readonly Gen<Command> Any = Gen.Frequency(
        (4, Charge),
        (1, User.Select(u => (Command)new Command.GetBalance(u))),
        (3, AddProduct),
        (2, Gen.Zip(Product, Quantity).Select(t => (Command)new Command.Restock(t.Item1, t.Item2))),
        (1, Product.Select(p => (Command)new Command.GetProduct(p))),
        (1, ListProducts),
        (2, Gen.Zip(User, Product).SelectMany(t => Quantity.Select(q => (Command)new Command.AddCartItem(t.Item1, t.Item2, q)))),
        (1, Gen.Zip(User, Product).Select(t => (Command)new Command.RemoveCartItem(t.Item1, t.Item2))),
        (6, PlaceOrder),
        (1, Gen.Choose(0, 6).Select(i => (Command)new Command.GetOrder(i))),
        (1, Gen.Zip(Gen.Choose(1, 5), Gen.Elements(TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(5), TimeSpan.FromHours(1), TimeSpan.FromDays(3), TimeSpan.FromDays(366)))
            .Select(t => (Command)new Command.QueryRanking(t.Item1, t.Item2))),
        (2, Gen.Elements(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(59), TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(4), TimeSpan.FromHours(1), TimeSpan.FromDays(1), TimeSpan.FromDays(2))
            .Select(by => (Command)new Command.AdvanceTime(by))));

    /// <summary>Command lists as long as the generator's size.</summary>
    public static readonly Gen<Command[]> Lists = Any.ArrayOf();

    /// <summary>Command lists that shrink by dropping commands and by dropping order lines.</summary>
    public static readonly Arbitrary<Command[]> Arbitrary = Arb.From(Lists, commands => Shrink.List(commands, Simpler));

    private static IEnumerable<Command> Simpler(Command command)
    {
        if (command is Command.PlaceOrder { Lines.Length: > 1 } order)
        {
            foreach (var lines in Shrink.List(order.Lines))
            {
                yield return order with { Lines = lines };
            }
        }
    }
}
