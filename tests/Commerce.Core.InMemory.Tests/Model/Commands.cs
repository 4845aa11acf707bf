using System.Globalization;

namespace Commerce.InMemory.Tests.Model;

/// <summary>One host call in a generated scenario. ToString is what a shrunk counterexample prints.</summary>
internal abstract record Command;

internal sealed record Charge(long User, long Amount) : Command
{
    public override string ToString() => $"Charge(u{User}, {Amount})";
}

internal sealed record GetBalance(long User) : Command
{
    public override string ToString() => $"GetBalance(u{User})";
}

internal sealed record AddProduct(long Product, string Name, long Price, int Stock) : Command
{
    public override string ToString() => $"AddProduct(P{Product}, \"{Name}\", {Price}, {Stock})";
}

internal sealed record Restock(long Product, int Quantity) : Command
{
    public override string ToString() => $"Restock(P{Product}, {Quantity})";
}

internal sealed record GetProduct(long Product) : Command
{
    public override string ToString() => $"GetProduct(P{Product})";
}

internal sealed record AddCartItem(long User, long Product, int Quantity) : Command
{
    public override string ToString() => $"AddCartItem(u{User}, P{Product}, {Quantity})";
}

internal sealed record RemoveCartItem(long User, long Product) : Command
{
    public override string ToString() => $"RemoveCartItem(u{User}, P{Product})";
}

internal sealed record PlaceOrder(long User, (long Product, int Quantity)[] Lines) : Command
{
    public override string ToString() =>
        $"PlaceOrder(u{User}, [{string.Join(", ", Lines.Select(l => string.Create(CultureInfo.InvariantCulture, $"{l.Quantity}×P{l.Product}")))}])";
}

/// <summary>Reads the n-th placed order; an index past the end asks for an id that was never issued.</summary>
internal sealed record GetOrder(int Index) : Command
{
    public override string ToString() => $"GetOrder(#{Index})";
}

internal sealed record QueryRanking(int Count, TimeSpan Window) : Command
{
    public override string ToString() => $"QueryRanking({Count}, {Window})";
}

internal sealed record AdvanceTime(TimeSpan By) : Command
{
    public override string ToString() => $"AdvanceTime({By})";
}
