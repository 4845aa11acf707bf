using System.Globalization;

namespace Commerce.Conformance.Model;

/// <summary>
/// One host call in a generated scenario, over users 1 to <see cref="CommandGenerators.Users"/> and
/// products 1 to <see cref="CommandGenerators.Products"/>. <c>ToString</c> is what a shrunk
/// counterexample prints.
/// </summary>
public abstract record Command
{
    private Command()
    {
    }

    private static string F(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

    public sealed record Charge(long User, long Amount) : Command
    {
        public override string ToString() => F($"Charge(u{User}, {Amount})");
    }

    public sealed record GetBalance(long User) : Command
    {
        public override string ToString() => F($"GetBalance(u{User})");
    }

    public sealed record AddProduct(long Product, string Name, long Price, int Stock) : Command
    {
        public override string ToString() => F($"AddProduct(P{Product}, \"{Name}\", {Price}, {Stock})");
    }

    public sealed record Restock(long Product, int Quantity) : Command
    {
        public override string ToString() => F($"Restock(P{Product}, {Quantity})");
    }

    public sealed record GetProduct(long Product) : Command
    {
        public override string ToString() => F($"GetProduct(P{Product})");
    }

    /// <summary>A page of the catalog: products after <see cref="After"/> (from the lowest if null), at most <see cref="Limit"/>.</summary>
    public sealed record ListProducts(long? After, int Limit) : Command
    {
        public override string ToString() => F($"ListProducts(after {(After is { } after ? "P" + after.ToString(CultureInfo.InvariantCulture) : "start")}, {Limit})");
    }

    public sealed record AddCartItem(long User, long Product, int Quantity) : Command
    {
        public override string ToString() => F($"AddCartItem(u{User}, P{Product}, {Quantity})");
    }

    public sealed record RemoveCartItem(long User, long Product) : Command
    {
        public override string ToString() => F($"RemoveCartItem(u{User}, P{Product})");
    }

    public sealed record PlaceOrder(long User, (long Product, int Quantity)[] Lines) : Command
    {
        public override string ToString() => F($"PlaceOrder(u{User}, [{string.Join(", ", Lines.Select(l => F($"{l.Quantity}×P{l.Product}")))}])");
    }

    /// <summary>Reads the n-th order placed so far; an index past the end asks for an id that was never issued.</summary>
    public sealed record GetOrder(int Index) : Command
    {
        public override string ToString() => F($"GetOrder(#{Index})");
    }

    public sealed record QueryRanking(int Count, TimeSpan Window) : Command
    {
        public override string ToString() => F($"QueryRanking({Count}, {Window})");
    }

    /// <summary>Moves the shop's fake clock (and the model's) forward.</summary>
    public sealed record AdvanceTime(TimeSpan By) : Command
    {
        public override string ToString() => F($"AdvanceTime({By})");
    }
}
