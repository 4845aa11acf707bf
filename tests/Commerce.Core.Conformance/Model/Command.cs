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

    /// <summary>A key as C# would write it, long runs of one character shortened: <c>null</c>, <c>"a"</c>, <c>"~"×128</c>.</summary>
    private static string KeyText(string? key)
    {
        if (key is null)
        {
            return "null";
        }

        if (key.Length > 8 && key.All(c => c == key[0]))
        {
            return F($"\"{Escape(key[0])}\"×{key.Length}");
        }

        return "\"" + string.Concat(key.Select(Escape)) + "\"";
    }

    private static string Escape(char c) => c is >= ' ' and <= '~' and not '"' and not '\\' ? c.ToString() : F($"\\u{(int)c:x4}");

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

    /// <summary>A charge under an idempotency key (<see langword="null"/> for the default key).</summary>
    public sealed record KeyedCharge(long User, long Amount, string? Key) : Command
    {
        public override string ToString() => F($"KeyedCharge(u{User}, {Amount}, {KeyText(Key)})");
    }

    /// <summary>An order under an idempotency key (<see langword="null"/> for the default key).</summary>
    public sealed record KeyedOrder(long User, (long Product, int Quantity)[] Lines, string? Key) : Command
    {
        public override string ToString() => F($"KeyedOrder(u{User}, [{string.Join(", ", Lines.Select(l => F($"{l.Quantity}×P{l.Product}")))}], {KeyText(Key)})");
    }

    public sealed record Checkout(long User) : Command
    {
        public override string ToString() => F($"Checkout(u{User})");
    }

    /// <summary>A checkout under an idempotency key (<see langword="null"/> for the default key).</summary>
    public sealed record KeyedCheckout(long User, string? Key) : Command
    {
        public override string ToString() => F($"KeyedCheckout(u{User}, {KeyText(Key)})");
    }

    /// <summary>Cancels the n-th order placed so far; an index past the end names an id that was never issued.</summary>
    public sealed record CancelOrder(int Index) : Command
    {
        public override string ToString() => F($"CancelOrder(#{Index})");
    }

    /// <summary>A page of a user's ledger: entries after sequence <see cref="After"/>, at most <see cref="Limit"/>.</summary>
    public sealed record GetLedger(long User, long After, int Limit) : Command
    {
        public override string ToString() => F($"GetLedger(u{User}, after {After}, {Limit})");
    }

    /// <summary>A user's newest <see cref="Limit"/> orders.</summary>
    public sealed record ListOrders(long User, int Limit) : Command
    {
        public override string ToString() => F($"ListOrders(u{User}, {Limit})");
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

    /// <summary>
    /// Sets the shop's fake clock (and the model's) back or ahead by <see cref="By"/>, as an NTP correction or a
    /// restored virtual machine would.
    /// </summary>
    public sealed record SetClock(TimeSpan By) : Command
    {
        public override string ToString() => F($"SetClock({(By < TimeSpan.Zero ? "-" : "+")}{By.Duration()})");
    }
}
