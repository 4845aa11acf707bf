namespace Commerce.Tests.Wallets;

public sealed class LedgerEntryTests
{
    private static readonly DateTimeOffset At = new(2026, 12, 7, 16, 0, 0, TimeSpan.FromHours(1));

    /// <summary>The record as declared, with the properties stored as given: the model an entry must behave as.</summary>
    private sealed record Declared(long Sequence, UserId UserId, LedgerEntryKind Kind, Money Amount, Money BalanceAfter, OrderId? OrderId, DateTimeOffset At);

    [Fact]
    public void An_entry_takes_80_bytes()
    {
        var order = OrderId.New(At);
        var before = GC.GetAllocatedBytesForCurrentThread();
        var entry = new LedgerEntry(1, new UserId(2), LedgerEntryKind.Payment, new Money(3), new Money(4), order, At);
        var after = GC.GetAllocatedBytesForCurrentThread();
        GC.KeepAlive(entry);
        Assert.Equal(80, after - before);
    }

    [Fact]
    public void An_entry_gives_back_what_it_was_made_with_and_compares_as_the_record_it_declares()
    {
        // Small domains, so that equal pairs come up as often as unequal ones; times at several offsets, some the
        // same instant at another offset (equal, as DateTimeOffset has it), and the extremes of its range.
        var random = new Random(20261207);
        var orders = new OrderId?[] { null, OrderId.New(At), OrderId.New(At.AddSeconds(1)), new OrderId(Guid.Empty) };
        var times = new[]
        {
            At, At.ToOffset(TimeSpan.Zero), At.ToOffset(TimeSpan.FromMinutes(-570)), At.ToOffset(TimeSpan.FromHours(14)),
            At.AddTicks(1), DateTimeOffset.MinValue, DateTimeOffset.MaxValue, DateTimeOffset.MaxValue.ToOffset(TimeSpan.FromHours(-14)),
        };
        for (var i = 0; i < 20_000; i++)
        {
            var (a, declaredA) = Make(random, orders, times);
            var (b, declaredB) = Make(random, orders, times);

            Assert.Equal(declaredA, AsDeclared(a));
            Assert.Equal(declaredA.At.Offset, a.At.Offset);
            Assert.True(declaredA.At.EqualsExact(a.At));
            Assert.Equal(declaredA.Equals(declaredB), a.Equals(b));
            Assert.Equal(declaredA == declaredB, a == b);
            Assert.Equal(a.Equals(b), b.Equals((object)a));
            if (a.Equals(b))
            {
                Assert.Equal(a.GetHashCode(), b.GetHashCode());
            }

            Assert.Equal(declaredA.ToString().Replace(nameof(Declared), nameof(LedgerEntry), StringComparison.Ordinal), a.ToString());

            // A copy with one property changed changes that property alone.
            var changed = random.Next(7) switch
            {
                0 => (a with { Sequence = b.Sequence }, declaredA with { Sequence = declaredB.Sequence }),
                1 => (a with { UserId = b.UserId }, declaredA with { UserId = declaredB.UserId }),
                2 => (a with { Kind = b.Kind }, declaredA with { Kind = declaredB.Kind }),
                3 => (a with { Amount = b.Amount }, declaredA with { Amount = declaredB.Amount }),
                4 => (a with { BalanceAfter = b.BalanceAfter }, declaredA with { BalanceAfter = declaredB.BalanceAfter }),
                5 => (a with { OrderId = b.OrderId }, declaredA with { OrderId = declaredB.OrderId }),
                _ => (a with { At = b.At }, declaredA with { At = declaredB.At }),
            };
            Assert.Equal(changed.Item2, AsDeclared(changed.Item1));
            Assert.True(changed.Item2.At.EqualsExact(changed.Item1.At));

            var (sequence, user, kind, amount, balance, order, at) = a;
            Assert.Equal(declaredA, new Declared(sequence, user, kind, amount, balance, order, at));
        }
    }

    private static (LedgerEntry Entry, Declared Declared) Make(Random random, OrderId?[] orders, DateTimeOffset[] times)
    {
        var sequence = random.Next(1, 3);
        var user = new UserId(random.Next(2) == 0 ? 1 : long.MinValue);
        var kind = (LedgerEntryKind)random.Next(3);
        var amount = new Money(random.Next(2) == 0 ? 0 : long.MaxValue);
        var balance = new Money(random.Next(2));
        var order = orders[random.Next(orders.Length)];
        var at = times[random.Next(times.Length)];
        return (new LedgerEntry(sequence, user, kind, amount, balance, order, at), new Declared(sequence, user, kind, amount, balance, order, at));
    }

    private static Declared AsDeclared(LedgerEntry entry) => new(entry.Sequence, entry.UserId, entry.Kind, entry.Amount, entry.BalanceAfter, entry.OrderId, entry.At);
}
